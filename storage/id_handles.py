"""`id_handles` (ours): a short random handle for each row id too long to embed in a
custom_id. Created when a button that needs one is built, read when it is clicked;
never deleted (a button may be clicked months later), one row per distinct long id.

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from storage.connection import Connection
from storage.db import Database
from storage.timefmt import utc_now

HANDLE_CHARS = 16  # base64url of 12 random bytes: 96 bits


def new_handle() -> str:
    return secrets.token_urlsafe(12)


def _existing(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.fetchall(
            f"SELECT handle, full_id FROM id_handles WHERE full_id IN ({marks})",  # noqa: S608
            tuple(chunk),
        )
        found.update({str(r["full_id"]): str(r["handle"]) for r in rows})
    return found


# --- Run in the database process (module-level functions, see storage/worker.py) -------
def in_db_handles_for(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The handle of each id (exact text), made for those that have none yet. Safe
    without a transaction: an insert that loses a race (same id, or a handle collision)
    is ignored and the id is read back, or given another handle."""
    wanted = list(dict.fromkeys(ids))
    found = _existing(conn, wanted)
    for _ in range(3):
        missing = [i for i in wanted if i not in found]
        if not missing:
            break
        now = utc_now()
        conn.executemany(
            "INSERT OR IGNORE INTO id_handles (handle, full_id, created_at) VALUES (?, ?, ?)",
            [(new_handle(), i, now) for i in missing],
        )
        found.update(_existing(conn, missing))
    return {i: found[i] for i in wanted if i in found}


def in_db_resolve(conn: Connection, handle: str) -> str | None:
    row = conn.fetchone("SELECT full_id FROM id_handles WHERE handle = ?", (handle,))
    return None if row is None else str(row["full_id"])


# --- Async face -----------------------------------------------------------------------------
async def handles_for(db: Database, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    return await db.run(in_db_handles_for, list(ids))


async def resolve(db: Database, handle: str) -> str | None:
    return await db.run(in_db_resolve, handle)
