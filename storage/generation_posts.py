"""`generation_posts` (ours): the Discord message that shows each /generate batch.

Written once the images are posted (guild, channel or thread, message); read by the
LoRA's detail page to link each batch to Discord's own copy of its images.
Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.connection import Connection
from storage.db import Database
from storage.timefmt import utc_now


@dataclass(frozen=True, slots=True)
class GenerationPost:
    batch_id: str
    guild_id: str | None  # None in a DM
    channel_id: str  # the thread, when the images went into one
    message_id: str

    @property
    def jump_url(self) -> str:
        where = self.guild_id or "@me"
        return f"https://discord.com/channels/{where}/{self.channel_id}/{self.message_id}"


# --- Run in the database process (module-level functions, see storage/worker.py) -------
def in_db_record(
    conn: Connection, batch_id: str, guild_id: str | None, channel_id: str, message_id: str
) -> None:
    """First post wins: a retried delivery of the same batch keeps the original link."""
    conn.execute(
        "INSERT OR IGNORE INTO generation_posts "
        "(batch_id, guild_id, channel_id, message_id, created_at) VALUES (?, ?, ?, ?, ?)",
        (batch_id, guild_id, channel_id, message_id, utc_now()),
    )


def in_db_posts_of(conn: Connection, batch_ids: Sequence[str]) -> dict[str, GenerationPost]:
    found: dict[str, GenerationPost] = {}
    wanted = list(dict.fromkeys(batch_ids))
    for start in range(0, len(wanted), 100):
        chunk = wanted[start : start + 100]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.fetchall(
            "SELECT batch_id, guild_id, channel_id, message_id FROM generation_posts "  # noqa: S608
            f"WHERE batch_id IN ({marks})",
            tuple(chunk),
        )
        for r in rows:
            guild = r["guild_id"]
            found[str(r["batch_id"])] = GenerationPost(
                batch_id=str(r["batch_id"]),
                guild_id=None if guild is None else str(guild),
                channel_id=str(r["channel_id"]),
                message_id=str(r["message_id"]),
            )
    return found


# --- Async face -----------------------------------------------------------------------------
async def record(
    db: Database, batch_id: str, *, guild_id: str | None, channel_id: str, message_id: str
) -> None:
    await db.run(in_db_record, batch_id, guild_id, channel_id, message_id)


async def posts_of(db: Database, batch_ids: Sequence[str]) -> dict[str, GenerationPost]:
    if not batch_ids:
        return {}
    return await db.run(in_db_posts_of, list(batch_ids))


async def remove(db: Database, batch_id: str) -> bool:
    """The post was deleted from Discord; whether there was a row."""
    return await db.execute("DELETE FROM generation_posts WHERE batch_id = ?", (batch_id,)) == 1
