"""The bot creates the web app's tables exactly as the seed DDL does, column by column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import libsql
import pytest

from storage.db import Connection, Database
from storage.migrate import load_migrations
from tests.conftest import SHARED

SEED_DDL = Path(__file__).resolve().parents[2] / "data" / "seed_ddl.sql"
SEED_TABLES = ("lora_trainings", "generated_images")
MIGRATIONS = Path(__file__).resolve().parents[3] / "storage" / "migrations"


def describe(conn: Any, table: str) -> dict[str, Any]:
    columns = [
        # cid, name, type, notnull, dflt_value, pk, hidden
        tuple(row)
        for row in conn.execute(f"PRAGMA table_xinfo({table})").fetchall()
    ]
    indexes = {}
    for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})").fetchall():
        cols = [r[2] for r in conn.execute(f"PRAGMA index_info({name})").fetchall()]
        indexes[name] = (unique, origin, partial, cols)
    return {"columns": columns, "indexes": indexes}


def describe_tables(conn: Connection) -> dict[str, dict[str, Any]]:
    return {t: describe(conn.raw, t) for t in SEED_TABLES}


def seed_schema() -> dict[str, dict[str, Any]]:
    conn = libsql.connect(":memory:")
    conn.executescript(SEED_DDL.read_text())
    return {t: describe(conn, t) for t in SEED_TABLES}


async def test_tables_match_seed_column_by_column(db: Database) -> None:
    expected = seed_schema()
    ours = await db.run(describe_tables)
    for table in SEED_TABLES:
        assert ours[table]["columns"] == expected[table]["columns"], table
        # Our later migrations may add indexes; every seed index must be there unchanged.
        for name, shape in expected[table]["indexes"].items():
            assert ours[table]["indexes"].get(name) == shape, (table, name)


async def test_schema_version_table_records_every_migration(db: Database) -> None:
    rows = await db.fetchall("SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
    on_disk = load_migrations()
    assert len(on_disk) >= 8  # 0001…0008 at the time of writing; new ones only add
    assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in on_disk
    ]
    files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert [int(f.name[:4]) for f in files] == [m.version for m in on_disk]


@pytest.mark.skipif(not (SHARED / "seeds").is_dir(), reason="shared seeds not beside the repo")
def test_vendored_ddl_is_the_seed_text() -> None:
    blocks = []
    for path in sorted((SHARED / "seeds").glob("*.txt")):
        for block in re.findall(r"```sql\n(.*?)```", path.read_text(), re.S):
            if "CREATE TABLE" in block:
                blocks.append(block)
    assert "".join(blocks) == SEED_DDL.read_text()
