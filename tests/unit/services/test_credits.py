"""Training credits against the real database: one training per credit, never lost."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from bot.services.admin import AdminWallets
from bot.services.credits import CreditLedger, CreditUnavailable, NotAnAdminWallet
from storage import credits as store
from storage import trainings
from storage.credits import Credit, CreditGone
from storage.db import Database, DatabaseError
from storage.trainings import NewTraining

USER = 4242
OTHER = 5151
WALLET = "0x000000000000000000000000000000000000bEEF"
ADMIN = "0x000000000000000000000000000000000000dEaD"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(db: Database, clock: Clock) -> CreditLedger:
    return CreditLedger(db, admins=AdminWallets.of([ADMIN.lower()]), clock=clock)


async def paid_credit(db: Database, clock: Clock, user: int = USER) -> Credit:
    """A credit as a verified payment leaves it (the payment row itself is not needed here)."""
    credit = Credit(
        id=secrets.token_hex(16),
        discord_user_id=user,
        wallet=WALLET,
        source="payment",
        payment_id=None,
        status="available",
        created_at=clock(),
    )
    await store.insert(db, credit)
    clock.now += timedelta(seconds=1)
    return credit


# The training's transaction, as the credits module documents it: one storage unit.
async def record_submitted(db: Database, credit_id: str, training_id: str) -> None:
    await trainings.record_submitted(
        db,
        credit_id,
        NewTraining(
            lora_id=training_id,
            request_id=f"req-{training_id}",
            wallet=WALLET,
            trigger_word="tok",
            steps=1000,
            image_urls=(),
            discord_user_id=USER,
            channel_id=None,
            progress_message_id=None,
            credit_id=credit_id,
            created_at="2026-11-22T12:00:00.000Z",
        ),
    )


async def mark_failed(db: Database, ledger: CreditLedger, training_id: str) -> bool:
    """Marking a training failed gives its credit back in the same transaction."""
    return await trainings.finish(
        db,
        training_id,
        status="failed",
        weights_url=None,
        error="boom",
        now="2026-11-22T13:00:00.000Z",
    )


async def training_rows(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM lora_trainings")
    assert row is not None
    return int(row["n"])


async def test_reserve_consume_in_the_training_transaction(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    assert await ledger.available(USER) == [credit]

    reserved = await ledger.reserve_next(USER, "t1")
    assert reserved is not None
    assert (reserved.id, reserved.status, reserved.training_id) == (credit.id, "reserved", "t1")
    assert reserved.reserved_at == clock.now
    assert await ledger.available(USER) == []

    await record_submitted(db, credit.id, "t1")

    used = await ledger.get(credit.id)
    assert used is not None
    assert (used.status, used.training_id) == ("consumed", "t1")
    assert used.consumed_at is not None
    assert await training_rows(db) == 1


async def test_a_failed_training_transaction_leaves_the_credit_reserved(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    await ledger.reserve(credit.id, discord_user_id=USER, training_id="t1")

    # Something after the credit is spent fails (here: the job row exists already).
    await db.execute(
        "INSERT INTO training_jobs (lora_training_id, request_id, discord_user_id, state, "
        "created_at, updated_at) VALUES ('t1', 'req-old', ?, 'queued', ?, ?)",
        (str(USER), "2026-11-22T11:00:00.000Z", "2026-11-22T11:00:00.000Z"),
    )
    with pytest.raises(DatabaseError):
        await record_submitted(db, credit.id, "t1")

    after = await ledger.get(credit.id)
    assert after is not None
    assert (after.status, after.training_id) == ("reserved", "t1")
    assert await training_rows(db) == 0


async def test_consuming_a_credit_reserved_for_another_training_rolls_everything_back(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    await ledger.reserve(credit.id, discord_user_id=USER, training_id="t1")

    with pytest.raises(CreditGone):
        await record_submitted(db, credit.id, "t2")

    assert await training_rows(db) == 0
    await record_submitted(db, credit.id, "t1")
    with pytest.raises(CreditGone):  # consumed now: no second training
        await record_submitted(db, credit.id, "t3")
    assert await training_rows(db) == 1


async def test_restore_when_fal_never_took_the_job(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    await ledger.reserve(credit.id, discord_user_id=USER, training_id="t1")

    assert not await ledger.restore(credit.id, training_id="other")  # not tied to that one
    assert await ledger.restore(credit.id, training_id="t1")
    assert not await ledger.restore(credit.id)  # already available

    back = await ledger.available(USER)
    assert [c.id for c in back] == [credit.id]
    assert (back[0].status, back[0].training_id, back[0].reserved_at) == ("available", None, None)


async def test_a_failed_training_gives_its_credit_back(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    await ledger.reserve(credit.id, discord_user_id=USER, training_id="t1")
    await record_submitted(db, credit.id, "t1")

    assert await mark_failed(db, ledger, "t1")

    assert [c.id for c in await ledger.available(USER)] == [credit.id]
    assert not await mark_failed(db, ledger, "t1")  # failed once only
    assert not await ledger.restore_for_training("t1")  # nothing tied to it any more


async def test_reserve_refuses_another_users_or_a_used_credit(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)
    with pytest.raises(CreditUnavailable):
        await ledger.reserve(credit.id, discord_user_id=OTHER, training_id="t1")
    await ledger.reserve(credit.id, discord_user_id=USER, training_id="t1")
    with pytest.raises(CreditUnavailable):
        await ledger.reserve(credit.id, discord_user_id=USER, training_id="t2")
    with pytest.raises(CreditUnavailable):
        await ledger.reserve("no-such-credit", discord_user_id=USER, training_id="t3")


async def test_oldest_credit_first_and_none_when_none_left(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    older = await paid_credit(db, clock)
    newer = await paid_credit(db, clock)
    await paid_credit(db, clock, user=OTHER)

    first = await ledger.reserve_next(USER, "t1")
    second = await ledger.reserve_next(USER, "t2")

    assert (first and first.id, second and second.id) == (older.id, newer.id)
    assert await ledger.reserve_next(USER, "t3") is None


async def test_racing_trainings_take_one_credit_once(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    credit = await paid_credit(db, clock)

    taken = await asyncio.gather(*(ledger.reserve_next(USER, f"t{i}") for i in range(10)))

    winners = [c for c in taken if c is not None]
    assert [c.id for c in winners] == [credit.id]


async def test_stale_reservations_come_back(
    db: Database, ledger: CreditLedger, clock: Clock
) -> None:
    lost = await paid_credit(db, clock)  # its process died before writing the training
    recorded = await paid_credit(db, clock)  # its training row exists
    await ledger.reserve(lost.id, discord_user_id=USER, training_id="t-lost")
    await ledger.reserve(recorded.id, discord_user_id=USER, training_id="t-ok")
    await db.execute(
        "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
        "image_urls, status, created_at) VALUES ('t-ok', 'r', ?, 'tok', 1000, '[]', 'pending', ?)",
        (WALLET, "2026-11-22T12:00:00.000Z"),
    )

    clock.now += timedelta(minutes=29)
    assert await ledger.release_stale_reservations() == 0
    clock.now += timedelta(minutes=2)
    assert await ledger.release_stale_reservations() == 1

    assert [c.id for c in await ledger.available(USER)] == [lost.id]


async def test_admin_wallets_get_a_credit_without_paying_once_at_a_time(
    ledger: CreditLedger,
) -> None:
    with pytest.raises(NotAnAdminWallet):
        await ledger.admin_credit(USER, WALLET)

    first = await ledger.admin_credit(USER, ADMIN)
    again = await ledger.admin_credit(USER, ADMIN)  # an abandoned /train does not pile up

    assert again == first
    assert (first.source, first.payment_id, first.status) == ("admin", None, "available")
    await ledger.reserve(first.id, discord_user_id=USER, training_id="t1")
    fresh = await ledger.admin_credit(USER, ADMIN.upper().replace("0X", "0x"))
    assert fresh.id != first.id


async def test_an_operator_grant_is_a_new_credit_with_its_reason(ledger: CreditLedger) -> None:
    granted = await ledger.grant(USER, WALLET, reason="paid 0xabc… after the quote expired")
    assert (granted.source, granted.note) == ("admin", "paid 0xabc… after the quote expired")
    assert await ledger.available(USER) == [granted]
