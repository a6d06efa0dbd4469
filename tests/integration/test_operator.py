"""`Operator` (the work behind `lora-bot admin`): listings and filters, granted credits
the real CreditLedger then spends, and `retry` against the fake fal queue over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.clients.fal import configure_endpoints
from bot.clients.fal_training import FalTrainer
from bot.services.admin_audit import Auditor
from bot.services.credits import CreditLedger
from bot.services.operator import AdminRefused, Filters, Operator
from bot.services.training.watcher import TrainingWatcher
from storage import training_news, trainings
from storage.db import Database
from storage.timefmt import iso
from tests.fakes.fal_training import FakeFalTraining
from tests.support import money_rows as rows

USER, OTHER = 111, 222
WALLET = "0x000000000000000000000000000000000000bEEF"
OTHER_WALLET = "0x00000000000000000000000000000000000CAFE5"


@pytest.fixture
async def fal() -> AsyncIterator[FakeFalTraining]:
    fake = await FakeFalTraining().start()
    configure_endpoints(fake.base_url)
    try:
        yield fake
    finally:
        configure_endpoints(None)
        await fake.stop()


def operator(db: Database, fal: FakeFalTraining | None = None) -> Operator:
    trainer = FalTrainer("fal-test-key") if fal is not None else None
    watcher = TrainingWatcher(db, trainer, owner="admin-test") if trainer else None
    auditor = Auditor(db, lease=timedelta(seconds=90), recovery_interval=timedelta(seconds=30))
    return Operator(db, CreditLedger(db), auditor, trainer=trainer, watcher=watcher)


async def test_listings_newest_first_with_every_filter(db: Database) -> None:
    old = await rows.paid_credit(db, USER, WALLET, at=rows.now() - timedelta(hours=2))
    await rows.paid_credit(db, OTHER, OTHER_WALLET, at=rows.now() - timedelta(hours=1))
    _, spent, lora = await rows.submitted(db, USER, WALLET)
    assert spent.id == old.id
    await rows.finish(db, lora, "failed")
    await rows.paid_credit(db, USER, WALLET)
    ops = operator(db)

    listed = await ops.list_payments(Filters())
    assert [p.discord_user_id for p in listed] == [USER, OTHER, USER]
    assert listed[-1].credit_status == "available"  # its training failed: usable again
    by_wallet = await ops.list_payments(Filters(wallet=WALLET.lower()))
    assert {p.wallet for p in by_wallet} == {WALLET}
    assert len(by_wallet) == 2
    assert len(await ops.list_payments(Filters(discord_user_id=OTHER))) == 1
    assert len(await ops.list_payments(Filters(state="verified", limit=1))) == 1

    assert len(await ops.list_credits(Filters())) == 3
    assert [c.discord_user_id for c in await ops.list_credits(Filters(wallet=OTHER_WALLET))] == [
        OTHER
    ]
    assert len(await ops.list_credits(Filters(discord_user_id=USER, state="available"))) == 2
    assert await ops.list_credits(Filters(state="consumed")) == []

    (failed,) = await ops.list_trainings(Filters(state="failed"))
    assert (failed.lora_id, failed.discord_user_id, failed.credit_id) == (lora, USER, old.id)
    assert await ops.list_trainings(Filters(state="pending")) == []
    assert await ops.list_trainings(Filters(discord_user_id=OTHER)) == []
    assert len(await ops.list_trainings(Filters(wallet=WALLET.upper().replace("0X", "0x")))) == 1

    with pytest.raises(AdminRefused, match="Unknown state"):
        await ops.list_credits(Filters(state="lost"))
    with pytest.raises(AdminRefused, match="not an Ethereum address"):
        await ops.list_payments(Filters(wallet="0x123"))


async def test_grant_credit_to_the_linked_user_records_who_and_why(db: Database) -> None:
    await rows.link_wallet(db, USER, WALLET)
    ops = operator(db)
    credit = await ops.grant_credit(
        WALLET.lower(), reason=" paid from an exchange ", granted_by="alice"
    )
    assert (credit.discord_user_id, credit.wallet, credit.source) == (USER, WALLET, "admin")
    assert (credit.note, credit.granted_by, credit.status) == (
        "paid from an exchange",
        "alice",
        "available",
    )
    stored = await CreditLedger(db).get(credit.id)
    assert stored == credit
    # Usable by the real ledger, like any credit.
    reserved = await CreditLedger(db).reserve_next(USER, "t1")
    assert reserved is not None and reserved.id == credit.id
    assert (await ops.audit()).ok


async def test_grant_credit_refuses_an_unlinked_wallet_unless_a_user_is_named(
    db: Database,
) -> None:
    ops = operator(db)
    with pytest.raises(AdminRefused, match="No Discord user has linked"):
        await ops.grant_credit(WALLET, reason="refund", granted_by="alice")
    assert await ops.list_credits(Filters()) == []
    credit = await ops.grant_credit(
        WALLET, reason="refund", granted_by="bob", discord_user_id=OTHER
    )
    assert (credit.discord_user_id, credit.granted_by) == (OTHER, "bob")
    with pytest.raises(AdminRefused, match="why"):
        await ops.grant_credit(WALLET, reason="  ", granted_by="bob", discord_user_id=OTHER)


async def test_retry_checks_a_pending_training_at_once(db: Database, fal: FakeFalTraining) -> None:
    await rows.paid_credit(db, USER, WALLET)
    rid = fal.add()
    fal.mode.script = []  # fal has finished it
    _, credit, lora = await rows.submitted(db, USER, WALLET, request_id=rid)

    result = await operator(db, fal).retry(lora)

    assert (result.before, result.after, result.fal_state) == ("pending", "completed", "completed")
    assert result.notice == "queued"  # the running bot's watcher tells them
    assert await rows.credit_status(db, credit.id) == ("consumed", lora)
    (untold,) = await training_news.unnotified_finished(db)
    assert untold.training.lora_id == lora
    assert untold.weights_url and rid in untold.weights_url


async def test_retry_leaves_a_training_fal_is_still_running(
    db: Database, fal: FakeFalTraining
) -> None:
    await rows.paid_credit(db, USER, WALLET)
    _, _, lora = await rows.submitted(db, USER, WALLET, request_id=fal.add())
    result = await operator(db, fal).retry(lora)
    assert (result.before, result.after, result.fal_state) == ("pending", "pending", "queued")


async def test_retry_completes_a_failed_training_fal_completed_by_spending_its_credit(
    db: Database, fal: FakeFalTraining
) -> None:
    await rows.paid_credit(db, USER, WALLET)
    rid = fal.add()
    fal.mode.script = []
    _, credit, lora = await rows.submitted(db, USER, WALLET, request_id=rid)
    await rows.finish(db, lora, "failed")  # e.g. a fal outage was taken for a failure
    await rows.told(db, lora)
    assert await rows.credit_status(db, credit.id) == ("available", None)

    result = await operator(db, fal).retry(lora)

    assert (result.before, result.after) == ("failed", "completed")
    assert await rows.credit_status(db, credit.id) == ("consumed", lora)
    assert result.notice == "queued"  # told it failed: the bot tells them it completed
    assert [f.status for f in await training_news.unnotified_finished(db)] == ["completed"]
    assert (await operator(db).audit()).ok


async def test_retry_refuses_when_the_restored_credit_was_spent_again(
    db: Database, fal: FakeFalTraining
) -> None:
    await rows.paid_credit(db, USER, WALLET)
    rid = fal.add()
    fal.mode.script = []
    _, credit, lora = await rows.submitted(db, USER, WALLET, request_id=rid)
    await rows.finish(db, lora, "failed")
    _, again, second = await rows.submitted(db, USER, WALLET)  # the credit paid for another
    assert again.id == credit.id

    with pytest.raises(AdminRefused, match=f"is consumed by training {second}"):
        await operator(db, fal).retry(lora)

    job = await trainings.job_of(db, lora)
    assert job is not None and job.status == "failed"
    assert await rows.credit_status(db, credit.id) == ("consumed", second)
    assert (await operator(db).audit()).ok


async def test_retry_of_a_failed_training_fal_also_failed_changes_nothing(
    db: Database, fal: FakeFalTraining
) -> None:
    await rows.paid_credit(db, USER, WALLET)
    fal.mode.script, fal.mode.error = [], "out of memory"
    _, credit, lora = await rows.submitted(db, USER, WALLET, request_id=fal.add())
    await rows.finish(db, lora, "failed")
    await db.execute(
        "UPDATE training_jobs SET telling_until = ? WHERE lora_training_id = ?",
        (iso(rows.now() + timedelta(hours=1)), lora),
    )  # a claim left by a bot that died mid-send

    result = await operator(db, fal).retry(lora)

    assert (result.before, result.after, result.fal_state) == ("failed", "failed", "failed")
    assert await rows.credit_status(db, credit.id) == ("available", None)
    assert result.notice == "queued"
    row = await db.fetchone(
        "SELECT telling_until FROM training_jobs WHERE lora_training_id = ?", (lora,)
    )
    assert row is not None and row["telling_until"] is None


async def test_retry_refuses_unknown_trainings_and_a_missing_fal_key(
    db: Database, fal: FakeFalTraining
) -> None:
    with pytest.raises(AdminRefused, match="No training the bot submitted"):
        await operator(db, fal).retry("nope")
    await rows.paid_credit(db, USER, WALLET)
    _, _, lora = await rows.submitted(db, USER, WALLET)
    with pytest.raises(AdminRefused, match="FAL_KEY"):
        await operator(db).retry(lora)
