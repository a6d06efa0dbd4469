"""Versioned, idempotent migrations, applied at start.

Files are `storage/migrations/NNNN_name.sql`. Each runs once, inside one
`BEGIN IMMEDIATE` transaction that also records it in `schema_migrations`, so two
processes starting together on one database apply each migration exactly once: the
second waits for the write lock, then finds the work done.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from storage.db import Connection, Database

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

SCHEMA_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """Split on statement boundaries the way SQLite itself sees them (triggers and
        quoted semicolons included)."""
        out: list[str] = []
        buffer = ""
        for line in self.sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                stmt = _strip_comments(buffer)
                if stmt:
                    out.append(stmt)
                buffer = ""
        if _strip_comments(buffer):
            raise ValueError(f"migration {self.version} ends with an incomplete statement")
        return out


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return "\n".join(lines).strip()


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions: {versions}")
    return found


def _apply_pending(conn: Connection, migrations: list[Migration]) -> tuple[list[int], list[str]]:
    """Runs in the database process: returns (versions applied now, names of applied
    migrations whose file changed since)."""
    applied_now: list[int] = []
    changed: list[str] = []
    with conn.transaction():
        conn.execute(SCHEMA_TABLE)
        done = {
            row["version"]: row["checksum"]
            for row in conn.fetchall("SELECT version, checksum FROM schema_migrations")
        }
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    changed.append(f"{migration.version:04d}_{migration.name}")
                continue
            for statement in migration.statements():
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    migration.version,
                    migration.name,
                    migration.checksum,
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                ),
            )
            applied_now.append(migration.version)
    return applied_now, changed


async def migrate(db: Database, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every migration not yet applied; return the versions applied now."""
    todo = load_migrations() if migrations is None else migrations
    applied, changed = await db.run(_apply_pending, todo)
    for name in changed:
        log.warning("migration file changed after it was applied", extra={"migration": name})
    if applied:
        log.info("migrations applied", extra={"versions": ",".join(map(str, applied))})
    return applied


async def schema_version(db: Database) -> int:
    row = await db.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
    return int(row["v"]) if row and row["v"] is not None else 0
