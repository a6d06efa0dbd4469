"""Functions the database worker process runs in the remote-database tests. The worker
imports them by name: kept here, away from the test module and its heavy imports, so a
worker starts in about 0.1 s instead of about 1 s."""

from __future__ import annotations

from storage.db import Connection


def write_then_read_back(conn: Connection, key: str) -> str | None:
    conn.execute(
        "INSERT INTO bot_meta (key, value, updated_at) VALUES (?, 'v', 'now') RETURNING key",
        (key,),
    )
    row = conn.fetchone("SELECT value FROM bot_meta WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


def replica_sync(conn: Connection) -> None:
    conn.raw.sync()
