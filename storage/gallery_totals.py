"""How many LoRAs each status holds, read in O(1) from `lora_status_totals`.

Migration 0035 keeps that table with triggers on `lora_trainings`, which fire for every
writer of the shared database (the web app included), so the count is exact, not an
estimate: the unfiltered gallery reads one row instead of counting a million. Filtered
views (one creator, a search) still count their own rows (see `storage/loras.py`).
"""

from __future__ import annotations

from storage.connection import Connection
from storage.db import Database


def in_db_total(conn: Connection, status: str) -> int:
    row = conn.fetchone("SELECT n FROM lora_status_totals WHERE status = ?", (status,))
    return int(row["n"]) if row else 0


async def total(db: Database, status: str) -> int:
    return await db.run(in_db_total, status)
