"""`bot_meta`: small facts the bot keeps about itself, by key."""

from __future__ import annotations

from storage.db import Database
from storage.timefmt import utc_now


async def get(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM bot_meta WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


async def put(db: Database, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO bot_meta (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, utc_now()),
    )
