"""The shared quota's count in storage: bot batches + the web app's images / 4 (rounded
down), on the real database. Web-app rows are written with SQL as the web app writes
them: upper-case `hex(randomblob(16))` ids, `toISOString()` times, any address case."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from storage import generation_batches
from storage.db import Database
from storage.generation_batches import _WEB_IMAGES, NewImage
from storage.migrate import load_migrations
from storage.timefmt import iso

WALLET = "0x000000000000000000000000000000000000bEEF"  # EIP-55, as the bot writes it
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WINDOW_START = iso(NOW - timedelta(hours=24))
FRESH_AFTER = iso(NOW - timedelta(minutes=10))
LIMIT = 8


async def web_images(
    db: Database, n: int, *, wallet: str = WALLET, at: datetime | None = None
) -> None:
    """What the web app's `generate.images` inserts, one row per image."""
    created = iso(at or NOW - timedelta(hours=1))
    for _ in range(n):
        await db.execute(
            "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
            "image_url, image_width, image_height, seed, created_at) "
            "VALUES (hex(randomblob(16)), 'l1', ?, 'p', 'https://fal.media/x.jpeg', 1024, 1024, "
            "'7', ?)",
            (wallet, created),
        )


async def reserve(db: Database, wallet: str = WALLET) -> bool:
    return await generation_batches.reserve(
        db,
        batch_id=secrets.token_hex(16),
        wallet=wallet,
        user_id=42,
        lora_id="l1",
        prompt="p",
        now=iso(NOW),
        window_start=WINDOW_START,
        fresh_after=FRESH_AFTER,
        limit=LIMIT,
    )


async def bot_batches(db: Database, n: int, *, images: int = 0) -> None:
    """`n` batches the bot reserved and completed with `images` images each."""
    for _ in range(n):
        batch_id = secrets.token_hex(16)
        assert await generation_batches.reserve(
            db,
            batch_id=batch_id,
            wallet=WALLET,
            user_id=42,
            lora_id="l1",
            prompt="p",
            now=iso(NOW - timedelta(hours=2)),
            window_start=WINDOW_START,
            fresh_after=FRESH_AFTER,
            limit=None,
        )
        assert await generation_batches.complete(
            db,
            batch_id=batch_id,
            lora_id="l1",
            wallet=WALLET,
            prompt="p",
            images=[
                NewImage(secrets.token_hex(16), "https://x/y.png", 8, 8, "1") for _ in range(images)
            ],
            now=iso(NOW - timedelta(hours=2) + timedelta(seconds=5)),
        )


async def left(db: Database, wallet: str = WALLET) -> int:
    """How many reservations the wallet still gets (each one taken)."""
    n = 0
    while await reserve(db, wallet):
        n += 1
        assert n <= LIMIT
    return n


async def used(db: Database, wallet: str = WALLET) -> tuple[int, int]:
    seen = await generation_batches.used(
        db, wallet, window_start=WINDOW_START, fresh_after=FRESH_AFTER, limit=LIMIT
    )
    return len(seen.batches), len(seen.web_images)


async def test_bot_batches_only(db: Database) -> None:
    await bot_batches(db, 7, images=4)
    assert await used(db) == (7, 0)
    assert await left(db) == 1


async def test_web_app_images_only_32_is_full(db: Database) -> None:
    await web_images(db, 32)
    assert await used(db) == (0, 32)
    assert await left(db) == 0


async def test_web_app_images_only_28_leaves_one(db: Database) -> None:
    await web_images(db, 28)
    assert await left(db) == 1


async def test_web_app_images_round_down_as_the_web_app_refuses(db: Database) -> None:
    # 31 images: the web app sees 7.75 batches (< 8, it would allow one more); so do we.
    await web_images(db, 31)
    assert await left(db) == 1


async def test_mixed_bot_batches_and_web_images(db: Database) -> None:
    await bot_batches(db, 3, images=4)
    await web_images(db, 19)  # 4 web batches
    assert await left(db) == 1
    await web_images(db, 1)  # 20: 5 web batches, and the bot's 4th batch above
    assert await left(db) == 0


async def test_web_app_addresses_in_another_case_count(db: Database) -> None:
    await web_images(db, 16, wallet=WALLET.lower())
    await web_images(db, 16, wallet="0x" + WALLET[2:].upper())
    assert await used(db) == (0, 32)
    assert await left(db) == 0
    assert await left(db, WALLET.lower()) == 0  # whatever case the bot is asked with


async def test_images_older_than_24_hours_do_not_count(db: Database) -> None:
    await web_images(db, 28, at=NOW - timedelta(hours=24, milliseconds=1))
    await web_images(db, 4, at=NOW - timedelta(hours=24))  # exactly at the edge: out
    await web_images(db, 4, at=NOW - timedelta(hours=24) + timedelta(milliseconds=1))  # in
    assert await used(db) == (0, 4)
    assert await left(db) == 7


async def test_a_bot_batch_is_not_counted_again_through_its_images(db: Database) -> None:
    await bot_batches(db, 7, images=4)
    # The web app sees the 28 images (7 batches) the bot stored…
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM generated_images WHERE wallet_address = ? AND created_at > ?",
        (WALLET, WINDOW_START),
    )
    assert row is not None and row["n"] == 28
    # …and the bot counts them as its 7 batches, not 7 more.
    assert await used(db) == (7, 0)
    assert await left(db) == 1


async def test_a_safety_filtered_two_image_batch_is_one_bot_batch(db: Database) -> None:
    await bot_batches(db, 1, images=2)
    assert await used(db) == (1, 0)
    # The web app counts it as half a batch: COUNT(*) / 4.
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM generated_images WHERE wallet_address = ?", (WALLET,)
    )
    assert row is not None and row["n"] == 2
    assert await left(db) == 7


async def test_an_exempt_reservation_ignores_web_images(db: Database) -> None:
    await web_images(db, 40)
    assert await generation_batches.reserve(
        db,
        batch_id=secrets.token_hex(16),
        wallet=WALLET,
        user_id=42,
        lora_id="l1",
        prompt="p",
        now=iso(NOW),
        window_start=WINDOW_START,
        fresh_after=FRESH_AFTER,
        limit=None,
    )


async def test_the_web_image_queries_use_our_index_without_sorting(db: Database) -> None:
    for sql in (
        f"SELECT COUNT(*) FROM (SELECT 1 {_WEB_IMAGES} LIMIT 32)",
        f"SELECT gi.created_at {_WEB_IMAGES} ORDER BY gi.created_at DESC LIMIT 32",
    ):
        plan = " ".join(
            str(r["detail"])
            for r in await db.fetchall(f"EXPLAIN QUERY PLAN {sql}", (WALLET, WINDOW_START))
        )
        assert "idx_gen_images_wallet_lower_created" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


async def test_migration_links_images_the_bot_stored_before_it(db: Database) -> None:
    await bot_batches(db, 2, images=4)
    await web_images(db, 4)
    await db.execute("DELETE FROM batch_images")  # as before migration 0014
    assert await used(db) == (2, 12)
    (backfill,) = [
        stmt
        for m in load_migrations()
        if m.version == 14
        for stmt in m.statements()
        if "INSERT OR IGNORE INTO batch_images" in stmt
    ]
    await db.execute(backfill)
    assert await used(db) == (2, 4)
