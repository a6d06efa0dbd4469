"""The embedded database under faults: full disk, another process holding the lock.
Nothing is corrupted, the error is clear, and the next call works once the fault ends."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogs.common.errors import describe
from storage.connection import Connection
from storage.db import Database, DatabaseConfig, DatabaseError
from storage.migrate import migrate
from tests.support.gallery_rows import IMAGE_COLUMNS, image_row, op_insert

ROOT = Path(__file__).resolve().parents[2]


def cap_pages(conn: Connection, pages: int) -> int:
    # The same SQLITE_FULL a full disk gives, without filling the machine's disk.
    return int(conn.execute(f"PRAGMA max_page_count = {int(pages)}").fetchall()[0][0])


def page_count(conn: Connection) -> int:
    return int(conn.execute("PRAGMA page_count").fetchall()[0][0])


def integrity(conn: Connection) -> str:
    return str(conn.execute("PRAGMA integrity_check").fetchall()[0][0])


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    db = Database(DatabaseConfig(url=f"file:{tmp_path / 'bot.db'}", busy_timeout_ms=300))
    await db.open()
    await migrate(db)
    return db


async def test_a_full_disk_is_a_clear_error_and_corrupts_nothing(database: Database) -> None:
    try:
        first = [image_row("lora-1", minutes=i) for i in range(20)]
        await database.transaction(
            op_insert,
            "generated_images",
            IMAGE_COLUMNS,
            [tuple(r[c] for c in IMAGE_COLUMNS) for r in first],
        )
        await database.run(cap_pages, await database.run(page_count) + 1)
        big = [image_row("lora-1", minutes=100 + i, prompt="x" * 3000) for i in range(200)]
        with pytest.raises(DatabaseError) as full:
            await database.transaction(
                op_insert,
                "generated_images",
                IMAGE_COLUMNS,
                [tuple(r[c] for c in IMAGE_COLUMNS) for r in big],
            )
        assert full.value.is_full
        message, unexpected = describe(full.value, "ABC234")
        assert "storage is full" in message and unexpected
        # The failed transaction left nothing half-written, and the file is sound.
        rows = await database.fetchone("SELECT COUNT(*) AS n FROM generated_images")
        assert rows == {"n": 20}
        assert await database.run(integrity) == "ok"
        await database.run(cap_pages, 1_000_000)  # space is freed
        await database.transaction(
            op_insert,
            "generated_images",
            IMAGE_COLUMNS,
            [tuple(r[c] for c in IMAGE_COLUMNS) for r in big[:5]],
        )
    finally:
        await database.close()


HOLD_LOCK = """
import sys, time, sqlite3
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


async def test_a_locked_database_waits_then_fails_clearly_then_recovers(
    database: Database, tmp_path: Path
) -> None:
    try:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "bot.db"), "1.5"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(DatabaseError) as locked:
            await database.execute(
                "INSERT INTO bot_meta (key, value, updated_at) VALUES ('k', 'v', 'now')"
            )
        waited = time.monotonic() - started
        assert locked.value.is_locked
        assert waited >= 0.25  # SQLite retried for the busy timeout before giving up
        message, _ = describe(locked.value, "ABC234", retry=True)
        assert "Press Retry" in message
        holder.wait(timeout=10)
        assert (
            await database.execute(
                "INSERT INTO bot_meta (key, value, updated_at) VALUES ('k', 'v', 'now')"
            )
            == 1
        )
    finally:
        await database.close()
