"""`generation_batches`: the quota's ledger, and the images each batch produced.

A batch is reserved with one conditional INSERT, so however many Discord users, tasks
or bot processes race for a wallet's last slot, SQLite lets exactly one through.

The quota is shared with the web app, which writes `generated_images` itself: a wallet's
use is its bot batches that count (`_COUNTS`) plus the web app's images of the window
divided by 4, rounded down (`_WEB_IMAGES`: the wallet's images in any letter case that
no bot batch stored, told apart through `batch_images`, migration 0014). Times compare as
text, as the web app compares them: both write ISO 8601 UTC with milliseconds and a Z
(`storage.timefmt.iso`, JavaScript's `toISOString()`), whose text order is time order.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Connection
from storage.db import Database

RESERVED, COMPLETED, RELEASED = "reserved", "completed", "released"

# A batch counts when it completed, or while its reservation is still fresh.
_COUNTS = (
    "wallet_address = ? AND created_at > ? "
    "AND (status = 'completed' OR (status = 'reserved' AND created_at > ?))"
)

# The web app's images of a wallet in the window: any letter case (the web app may write
# checksummed or lower-case addresses; `lower()` matches idx_gen_images_wallet_lower_created),
# minus those a bot batch stored (already counted as its batch).
_WEB_IMAGES = (
    "FROM generated_images gi WHERE lower(gi.wallet_address) = lower(?) AND gi.created_at > ? "
    "AND NOT EXISTS (SELECT 1 FROM batch_images bi WHERE bi.image_id = gi.id)"
)
# The web app counts a batch per 4 images.
IMAGES_PER_WEB_BATCH = 4


@dataclass(frozen=True, slots=True)
class NewImage:
    id: str
    image_url: str
    width: int | None
    height: int | None
    seed: str | None


def in_db_reserve(
    conn: Connection,
    batch_id: str,
    wallet: str,
    user_id: int,
    lora_id: str,
    prompt: str,
    now: str,
    window_start: str,
    fresh_after: str,
    limit: int | None,
) -> bool:
    """`limit` None: an exempt wallet, recorded but never refused."""
    values = (batch_id, wallet, str(user_id), lora_id, prompt, now)
    insert = (
        "INSERT INTO generation_batches (id, wallet_address, discord_user_id, lora_training_id, "
        "prompt, status, created_at) SELECT ?, ?, ?, ?, ?, 'reserved', ?"
    )
    if limit is None:
        return int(conn.execute(insert, values).rowcount) == 1
    # Bot batches + floor(web images / 4) < limit, in the INSERT's own WHERE: one
    # statement, so racing writers cannot both pass. Each count stops at what the limit
    # needs (`limit` batches, 4 x `limit` images), so a busy wallet costs no more than a
    # quiet one. COUNT(*) / 4 is integer division in SQLite: rounded down.
    cursor = conn.execute(
        insert + " WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM generation_batches "  # noqa: S608
        f"WHERE {_COUNTS} LIMIT ?)) + (SELECT COUNT(*) FROM (SELECT 1 {_WEB_IMAGES} LIMIT ?)) "
        f"/ {IMAGES_PER_WEB_BATCH} < ?",
        (
            *values,
            wallet,
            window_start,
            fresh_after,
            limit,
            wallet,
            window_start,
            limit * IMAGES_PER_WEB_BATCH,
            limit,
        ),
    )
    return int(cursor.rowcount) == 1


async def reserve(
    db: Database,
    *,
    batch_id: str,
    wallet: str,
    user_id: int,
    lora_id: str,
    prompt: str,
    now: str,
    window_start: str,
    fresh_after: str,
    limit: int | None,
) -> bool:
    return await db.run(
        in_db_reserve,
        batch_id,
        wallet,
        user_id,
        lora_id,
        prompt,
        now,
        window_start,
        fresh_after,
        limit,
    )


@dataclass(frozen=True, slots=True)
class BatchRow:
    batch_id: str
    discord_user_id: int
    lora_id: str
    prompt: str
    status: str
    seed: str | None  # fal's seed for the batch, as its stored images carry it


async def get(db: Database, batch_id: str) -> BatchRow | None:
    row = await db.fetchone(
        "SELECT b.id, b.discord_user_id, b.lora_training_id, b.prompt, b.status, "
        "(SELECT gi.seed FROM batch_images bi JOIN generated_images gi ON gi.id = bi.image_id "
        " WHERE bi.batch_id = b.id LIMIT 1) AS seed "
        "FROM generation_batches b WHERE b.id = ?",
        (batch_id,),
    )
    if row is None:
        return None
    seed = row["seed"]
    return BatchRow(
        row["id"],
        int(row["discord_user_id"]),
        row["lora_training_id"],
        row["prompt"],
        row["status"],
        None if seed is None else str(seed),
    )


@dataclass(frozen=True, slots=True)
class Used:
    """Creation times, newest first, of what counts against a wallet's quota now: its
    newest `limit` bot batches and its newest 4 x `limit` web-app images (enough to say
    how many of `limit` are left and when the next one frees up)."""

    batches: list[str]
    web_images: list[str]


def in_db_used(
    conn: Connection, wallet: str, window_start: str, fresh_after: str, limit: int
) -> Used:
    batches = conn.fetchall(
        f"SELECT created_at FROM generation_batches WHERE {_COUNTS} "  # noqa: S608
        "ORDER BY created_at DESC LIMIT ?",
        (wallet, window_start, fresh_after, limit),
    )
    images = conn.fetchall(
        f"SELECT gi.created_at {_WEB_IMAGES} "
        # Plain `created_at` (not `lower(...), created_at`): SQLite then walks the index
        # backwards; with the expression in ORDER BY it sorts the whole window instead.
        "ORDER BY gi.created_at DESC LIMIT ?",
        (wallet, window_start, limit * IMAGES_PER_WEB_BATCH),
    )
    return Used([str(r["created_at"]) for r in batches], [str(r["created_at"]) for r in images])


async def used(
    db: Database, wallet: str, *, window_start: str, fresh_after: str, limit: int
) -> Used:
    # Two LIMITed index walks: cheaper here than the hop to the worker (`Database.read`).
    return await db.read(in_db_used, wallet, window_start, fresh_after, limit)


def in_db_complete(
    conn: Connection,
    batch_id: str,
    lora_id: str,
    wallet: str,
    prompt: str,
    images: list[NewImage],
    now: str,
) -> bool:
    """Store the images (seed format), link them to the batch (so the quota does not count
    them again as the web app's) and close the batch, all or nothing."""
    with conn.transaction():
        row = conn.fetchone(
            "UPDATE generation_batches SET status = 'completed', image_count = ?, finished_at = ? "
            "WHERE id = ? AND status = 'reserved' RETURNING id",
            (len(images), now, batch_id),
        )
        if row is None:
            return False
        conn.executemany(
            "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
            "image_url, image_width, image_height, seed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i.id, lora_id, wallet, prompt, i.image_url, i.width, i.height, i.seed, now)
                for i in images
            ],
        )
        conn.executemany(
            "INSERT INTO batch_images (image_id, batch_id) VALUES (?, ?)",
            [(i.id, batch_id) for i in images],
        )
    return True


async def complete(
    db: Database,
    *,
    batch_id: str,
    lora_id: str,
    wallet: str,
    prompt: str,
    images: list[NewImage],
    now: str,
) -> bool:
    return await db.run(in_db_complete, batch_id, lora_id, wallet, prompt, images, now)


async def release(db: Database, batch_id: str, *, now: str) -> bool:
    changed = await db.execute(
        "UPDATE generation_batches SET status = 'released', finished_at = ? "
        "WHERE id = ? AND status = 'reserved'",
        (now, batch_id),
    )
    return changed == 1


async def release_stale(db: Database, *, reserved_before: str, now: str) -> int:
    """Reservations whose process died: mark them released (they already stopped counting)."""
    return await db.execute(
        "UPDATE generation_batches SET status = 'released', finished_at = ? "
        "WHERE status = 'reserved' AND created_at < ?",
        (now, reserved_before),
    )
