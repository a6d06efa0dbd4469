"""QuotaLedger against the real database: exact under races, exact at the window edge."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import Moment
from bot.services.admin import AdminWallets
from bot.services.quota import QuotaExceeded, QuotaLedger
from storage.db import Database
from storage.generation_batches import NewImage
from storage.timefmt import iso

WALLET = "0x000000000000000000000000000000000000bEEF"
ADMIN = "0x000000000000000000000000000000000000dEaD"
ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(db: Database, clock: Clock) -> QuotaLedger:
    return QuotaLedger(db, admins=AdminWallets.of([ADMIN.lower()]), clock=clock)


async def use(ledger: QuotaLedger, n: int, wallet: str = WALLET) -> None:
    for _ in range(n):
        reservation = await ledger.reserve(wallet, user_id=42, lora_id="l1", prompt="p")
        assert await ledger.complete(reservation, [])


async def test_eight_batches_then_a_refusal_that_says_when(
    ledger: QuotaLedger, clock: Clock
) -> None:
    first = clock.now
    await use(ledger, 1)
    clock.now += timedelta(hours=1)
    await use(ledger, 7)
    status = await ledger.status(WALLET)
    assert (status.used, status.remaining) == (8, 0)
    with pytest.raises(QuotaExceeded) as refused:
        await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")
    next_free = first + timedelta(hours=24)
    assert refused.value.status.next_free_at == next_free
    assert Moment(next_free, "relative") in refused.value.parts
    assert "<t:" not in refused.value.message


async def test_twenty_concurrent_requests_for_the_last_slot(ledger: QuotaLedger) -> None:
    await use(ledger, 7)
    outcomes = await asyncio.gather(
        *(ledger.reserve(WALLET, user_id=40 + i, lora_id="l1", prompt="p") for i in range(20)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o not in winners)
    assert (await ledger.status(WALLET)).used == 8


async def test_window_edge(ledger: QuotaLedger, clock: Clock) -> None:
    await use(ledger, 8)
    clock.now += timedelta(hours=24) - timedelta(seconds=1)
    assert (await ledger.status(WALLET)).used == 8
    clock.now += timedelta(seconds=2)  # 24 h + 1 s after the batches
    assert (await ledger.status(WALLET)).used == 0
    await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")


async def test_released_and_stale_reservations_free_their_slot(
    ledger: QuotaLedger, clock: Clock, db: Database
) -> None:
    await use(ledger, 7)
    failed = await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")
    assert await ledger.release(failed)
    crashed = await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")
    assert (await ledger.status(WALLET)).used == 8
    clock.now += timedelta(minutes=10, seconds=1)  # the process that reserved it died
    assert (await ledger.status(WALLET)).used == 7
    assert await ledger.release_stale() == 1
    assert not await ledger.complete(crashed, [])  # too late: nothing half-saved
    rows = await db.fetchall("SELECT status FROM generation_batches ORDER BY created_at")
    assert [r["status"] for r in rows].count("released") == 2


async def test_complete_writes_seed_format_rows_once(ledger: QuotaLedger, db: Database) -> None:
    reservation = await ledger.reserve(WALLET, user_id=42, lora_id="lora-1", prompt="a cat")
    images = [
        NewImage(f"{i:032x}", f"https://fal.media/{i}.jpg", 1024, 1024, "18446744073709551615")
        for i in range(3)
    ]
    assert await ledger.complete(reservation, images)
    assert not await ledger.complete(reservation, images)  # a second completion is refused
    rows = await db.fetchall("SELECT * FROM generated_images ORDER BY id")
    assert len(rows) == 3
    assert rows[0]["seed"] == "18446744073709551615"  # TEXT, beyond 2^53
    assert rows[0]["prompt"] == "a cat" and rows[0]["wallet_address"] == WALLET
    assert rows[0]["created_at"].endswith("Z")
    batch = await db.fetchone("SELECT status, image_count FROM generation_batches")
    assert batch == {"status": "completed", "image_count": 3}


async def test_admin_wallets_are_exempt(ledger: QuotaLedger) -> None:
    await use(ledger, 12, wallet=ADMIN)
    status = await ledger.status(ADMIN)
    assert status.exempt
    assert status.describe() == "unlimited (admin wallet)"


RACE = """
import asyncio, sys
from datetime import UTC, datetime
from storage.db import Database, DatabaseConfig
from bot.services.quota import QuotaLedger, QuotaExceeded
async def main():
    db = Database(DatabaseConfig(url="file:" + sys.argv[1]))
    await db.open()
    ledger = QuotaLedger(db, clock=lambda: datetime(2026, 11, 22, 12, 0, 1, tzinfo=UTC))
    async def one(i):
        try:
            await ledger.reserve(sys.argv[2], user_id=i, lora_id="l1", prompt="p")
            return 1
        except QuotaExceeded:
            return 0
    print(sum(await asyncio.gather(*(one(i) for i in range(10)))))
    await db.close()
asyncio.run(main())
"""


@pytest.mark.embedded_only  # four processes on one file path (remote: test_remote_database.py)
async def test_four_processes_racing_on_one_file_stay_exact(
    db: Database, ledger: QuotaLedger, tmp_path: Path
) -> None:
    await use(ledger, 7)
    path = db.config.local_path
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path), WALLET],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert sum(int(out) for out, _ in results) == 1
    assert (await ledger.status(WALLET)).used == 8


def test_admin_wallets_compare_in_any_case() -> None:
    admins = AdminWallets.of([" 0xAbC0000000000000000000000000000000000001 ", ""])
    assert "0xabc0000000000000000000000000000000000001" in admins
    assert "0xABC0000000000000000000000000000000000001" in admins
    assert "0xabc0000000000000000000000000000000000002" not in admins
    assert 42 not in admins and len(admins) == 1


# --- Shared with the web app: its generated_images rows count, 4 images a batch ---------


async def web_images(db: Database, at: list[datetime], wallet: str = WALLET.lower()) -> None:
    """Rows as the web app's `generate.images` inserts them (one per image)."""
    for moment in at:
        await db.execute(
            "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
            "image_url, image_width, image_height, seed, created_at) "
            "VALUES (hex(randomblob(16)), 'l1', ?, 'p', 'https://fal.media/x.jpeg', 1024, 1024, "
            "'7', ?)",
            (wallet, iso(moment)),
        )


async def test_twenty_concurrent_requests_with_web_app_images_present(
    ledger: QuotaLedger, db: Database, clock: Clock
) -> None:
    await use(ledger, 3)
    await web_images(db, [clock.now - timedelta(minutes=k) for k in range(19)])  # 4 batches
    outcomes = await asyncio.gather(
        *(ledger.reserve(WALLET, user_id=40 + i, lora_id="l1", prompt="p") for i in range(20)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o not in winners)
    assert (await ledger.status(WALLET)).used == 8


@pytest.mark.embedded_only  # four processes on one file path (remote: test_remote_database.py)
async def test_four_processes_racing_with_web_app_images_stay_exact(
    db: Database, ledger: QuotaLedger, clock: Clock
) -> None:
    await use(ledger, 1)
    await web_images(db, [clock.now - timedelta(minutes=k) for k in range(24)])  # 6 batches
    path = db.config.local_path
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path), WALLET],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert sum(int(out) for out, _ in results) == 1
    assert (await ledger.status(WALLET)).used == 8


async def test_web_app_images_fill_the_quota_and_say_when_they_leave(
    ledger: QuotaLedger, db: Database, clock: Clock
) -> None:
    oldest = clock.now - timedelta(hours=20)
    # 33 images: 8 web batches, and one image to spare; two must leave to free a slot.
    await web_images(db, [oldest, oldest + timedelta(hours=1)])
    await web_images(db, [clock.now - timedelta(minutes=k + 1) for k in range(31)])
    status = await ledger.status(WALLET)
    assert (status.used, status.remaining) == (8, 0)
    assert status.next_free_at == oldest + timedelta(hours=25)
    with pytest.raises(QuotaExceeded) as refused:
        await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")
    assert refused.value.status.next_free_at == oldest + timedelta(hours=25)
    clock.now = oldest + timedelta(hours=25)
    assert (await ledger.status(WALLET)).remaining == 1
    await ledger.reserve(WALLET, user_id=42, lora_id="l1", prompt="p")


async def test_next_free_with_bot_batches_and_web_images_mixed(
    ledger: QuotaLedger, db: Database, clock: Clock
) -> None:
    start = clock.now
    await web_images(db, [start - timedelta(hours=2)] * 4)  # 1 web batch, leaves first
    await use(ledger, 7)
    status = await ledger.status(WALLET)
    assert (status.used, status.next_free_at) == (8, start + timedelta(hours=22))
    clock.now += timedelta(hours=1)
    await web_images(db, [clock.now] * 4)  # the web batch again: now a bot batch leaves first
    clock.now += timedelta(hours=21, minutes=30)
    status = await ledger.status(WALLET)
    assert (status.used, status.next_free_at) == (8, start + timedelta(hours=24))


async def test_next_return_says_when_a_used_slot_comes_back_before_the_wallet_is_full(
    ledger: QuotaLedger, db: Database, clock: Clock
) -> None:
    assert (await ledger.status(WALLET)).next_return_at is None  # nothing used
    start = clock.now
    await web_images(db, [start - timedelta(hours=3)] * 3)  # 3 web images: no batch yet
    await use(ledger, 2)
    clock.now += timedelta(hours=1)
    await web_images(db, [clock.now])  # the 4th web image: one web batch
    status = await ledger.status(WALLET)
    assert (status.used, status.next_free_at) == (3, None)
    # The oldest web images leave first, and with them the web batch.
    assert status.next_return_at == start + timedelta(hours=21)
    await use(ledger, 5)
    full = await ledger.status(WALLET)
    assert full.used == 8 and full.next_free_at == full.next_return_at == status.next_return_at
