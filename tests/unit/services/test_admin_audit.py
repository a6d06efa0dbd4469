"""`Auditor`: the money invariant on a real database, healthy and with each kind of
offender planted (planting one needs a write that no bot code makes: raw SQL here)."""

from __future__ import annotations

from datetime import timedelta

from bot.services.admin_audit import Auditor, AuditReport
from bot.services.credits import CreditLedger
from storage import credits, trainings
from storage.db import Database
from storage.timefmt import iso
from storage.trainings import NewTraining
from tests.support import money_rows as rows

USER, OTHER = 111, 222
WALLET = "0x000000000000000000000000000000000000bEEF"
LEASE = timedelta(seconds=90)


def auditor(db: Database) -> Auditor:
    return Auditor(db, lease=LEASE, recovery_interval=timedelta(seconds=30))


def problems(report: AuditReport) -> set[tuple[int, str]]:
    return {(o.rule, o.problem.split(" (")[0]) for o in report.offenses}


async def healthy(db: Database) -> None:
    """Every way a payment can legitimately stand."""
    await rows.paid_credit(db, USER, WALLET)
    _, _, done = await rows.submitted(db, USER, WALLET)  # trained
    await rows.finish(db, done, "completed")
    await rows.paid_credit(db, USER, WALLET)
    _, _, failed = await rows.submitted(db, USER, WALLET)  # failed: credit usable again
    await rows.finish(db, failed, "failed")
    _, _, _ = await rows.submitted(db, USER, WALLET)  # reuses that credit, still pending
    await rows.paid_credit(db, OTHER, WALLET)
    await rows.begin(db, OTHER, WALLET, lease=LEASE)  # being submitted right now
    await rows.paid_credit(db, OTHER, WALLET)  # not used yet
    granted = await CreditLedger(db).grant(OTHER, WALLET, reason="goodwill", granted_by="ops")
    assert granted.status == "available"


async def test_a_healthy_database_passes(db: Database) -> None:
    await healthy(db)
    report = await auditor(db).run()
    assert report.offenses == ()
    assert report.ok
    assert (report.counts.payments, report.counts.credits, report.counts.trainings) == (4, 5, 3)


async def test_a_consumed_credit_without_its_training(db: Database) -> None:
    await healthy(db)
    credit = await rows.paid_credit(db, USER, WALLET)
    await db.execute(
        "UPDATE training_credits SET status = 'consumed', training_id = 'gone', "
        "consumed_at = ? WHERE id = ?",
        (iso(rows.now()), credit.id),
    )
    report = await auditor(db).run()
    assert problems(report) == {(1, "consumed credit without its training")}
    (offense,) = report.offenses
    assert offense.finding.credit_id == credit.id
    assert offense.finding.payment_id == credit.payment_id
    assert "training gone" in offense.describe()


async def test_a_payment_without_a_credit(db: Database) -> None:
    credit = await rows.paid_credit(db, USER, WALLET)
    await db.execute("DELETE FROM training_credits WHERE id = ?", (credit.id,))
    report = await auditor(db).run()
    assert problems(report) == {(1, "verified payment without a credit")}
    assert report.offenses[0].finding.payment_id == credit.payment_id


async def test_a_topped_up_payment_and_a_part_still_in_its_window_pass(db: Database) -> None:
    await healthy(db)
    topped = await rows.new_quote(db, USER, WALLET, at=rows.now(), wei=10**15)
    first = await rows.paid_part(db, topped, 4 * 10**14)
    assert (first.total_wei, first.credit) == (4 * 10**14, None)
    second = await rows.paid_part(db, topped, 6 * 10**14)
    assert second.total_wei == 10**15 and second.credit is not None
    waiting = await rows.new_quote(db, OTHER, WALLET, at=rows.now(), wei=10**15)
    await rows.paid_part(db, waiting, 10**14)  # may still be topped up
    report = await auditor(db).run()
    assert report.offenses == ()
    spent = await db.fetchall("SELECT credit_id FROM payments WHERE quote_id = ?", (topped.id,))
    assert [r["credit_id"] for r in spent] == [second.credit.id] * 2


async def test_a_part_whose_quote_expired_is_listed_for_an_operator(db: Database) -> None:
    await healthy(db)
    long_ago = rows.now() - timedelta(hours=1)
    quote = await rows.new_quote(db, USER, WALLET, at=long_ago, wei=10**15)
    await rows.paid_part(db, quote, 3 * 10**14, at=long_ago)
    report = await auditor(db).run()
    assert problems(report) == {(1, "part of a payment never topped up before its quote expired")}
    (offense,) = report.offenses
    part = await db.fetchone("SELECT id, tx_hash FROM payments WHERE quote_id = ?", (quote.id,))
    assert part is not None and offense.finding.payment_id == part["id"]
    assert f"paid {3 * 10**14} wei of a {10**15} wei quote" in offense.describe()
    assert part["tx_hash"] in offense.describe()


async def test_a_credit_consumed_by_two_trainings(db: Database) -> None:
    await healthy(db)
    await rows.paid_credit(db, USER, WALLET)
    _, credit, first = await rows.submitted(db, USER, WALLET)
    _, _, second = await rows.submitted(db, OTHER, WALLET)  # OTHER's unused credit
    # The second training's job names the first one's credit (its own stays consumed).
    await db.execute(
        "UPDATE training_jobs SET credit_id = ? WHERE lora_training_id = ?", (credit.id, second)
    )
    report = await auditor(db).run()
    assert (2, "credit named by several trainings") in problems(report)
    double = next(o for o in report.offenses if o.problem == "credit named by several trainings")
    assert double.finding.credit_id == credit.id
    assert set((double.finding.detail or "").split(", ")) == {first, second}


async def test_a_credit_pointing_at_a_training_paid_by_another(db: Database) -> None:
    await rows.paid_credit(db, USER, WALLET)
    _, _, lora = await rows.submitted(db, USER, WALLET)
    other = await rows.paid_credit(db, USER, WALLET)
    await db.execute(
        "UPDATE training_credits SET status = 'consumed', training_id = ? WHERE id = ?",
        (lora, other.id),
    )
    report = await auditor(db).run()
    assert (2, "credit spent on a training whose job names another credit") in problems(report)


async def test_a_live_training_whose_credit_is_usable_again(db: Database) -> None:
    await rows.paid_credit(db, USER, WALLET)
    _, credit, lora = await rows.submitted(db, USER, WALLET)
    await rows.finish(db, lora, "completed")
    await credits.restore(db, credit.id)
    report = await auditor(db).run()
    assert problems(report) == {(2, "pending or completed training whose credit is usable again")}
    assert report.offenses[0].finding.training_id == lora


async def test_a_stranded_reservation(db: Database) -> None:
    await healthy(db)
    credit = await rows.paid_credit(db, USER, WALLET)
    long_ago = rows.now() - timedelta(minutes=10)
    order, reserved, _ = await rows.begin(db, USER, WALLET, at=long_ago, lease=LEASE)
    assert reserved.id == credit.id
    report = await auditor(db).run()
    assert problems(report) == {(1, "stranded reservation")}
    (offense,) = report.offenses
    assert offense.finding.order_id == order.id
    assert (offense.finding.credit_id, offense.finding.payment_id) == (
        credit.id,
        credit.payment_id,
    )


async def test_a_reservation_within_its_lease_and_recovery_is_not_stranded(db: Database) -> None:
    lease_just_ended = rows.now() - LEASE - timedelta(seconds=10)
    await rows.paid_credit(db, USER, WALLET)
    await rows.begin(db, USER, WALLET, at=lease_just_ended, lease=LEASE)
    assert (await auditor(db).run()).ok


async def test_an_expired_reservation_without_an_order(db: Database) -> None:
    await healthy(db)
    credit = await rows.paid_credit(db, USER, WALLET)
    an_hour_ago = iso(rows.now() - timedelta(hours=1))
    assert await credits.reserve(db, credit.id, "t-lost", USER, now=an_hour_ago)
    fresh = await rows.paid_credit(db, OTHER, WALLET)
    assert await credits.reserve(db, fresh.id, "t-now", OTHER, now=iso(rows.now()))
    report = await auditor(db).run()
    assert problems(report) == {(4, "reservation held by no order for over 30 minutes")}
    assert report.offenses[0].finding.credit_id == credit.id


async def test_a_training_with_no_credit(db: Database) -> None:
    await healthy(db)
    await rows.paid_credit(db, USER, WALLET)
    _, _, lora = await rows.submitted(db, USER, WALLET)
    await db.execute(
        "UPDATE training_jobs SET credit_id = NULL WHERE lora_training_id = ?", (lora,)
    )
    report = await auditor(db).run()
    assert (3, "bot training without a valid credit") in problems(report)
    offense = next(o for o in report.offenses if o.rule == 3)
    assert (offense.finding.training_id, offense.finding.detail) == (lora, "no credit named")


async def test_an_admin_credit_needs_a_reason(db: Database) -> None:
    ledger = CreditLedger(db)
    credit = await ledger.grant(USER, WALLET, reason="refund", granted_by="ops")
    _, _, lora = await rows.submitted(db, USER, WALLET)
    assert (await rows.credit_status(db, credit.id)) == ("consumed", lora)
    assert (await auditor(db).run()).ok
    await db.execute("UPDATE training_credits SET note = '' WHERE id = ?", (credit.id,))
    report = await auditor(db).run()
    assert [(o.rule, o.finding.detail) for o in report.offenses] == [
        (3, "admin credit without a reason")
    ]


async def test_a_submitted_order_without_its_training_and_a_job_without_order(
    db: Database,
) -> None:
    await rows.paid_credit(db, USER, WALLET)
    order, _, lora = await rows.submitted(db, USER, WALLET)
    await db.execute(
        "UPDATE training_orders SET lora_training_id = 'nope' WHERE id = ?", (order.id,)
    )
    report = await auditor(db).run()
    assert problems(report) == {
        (5, "submitted order without its training"),
        (5, "bot training without an order"),
    }
    assert {o.finding.order_id or o.finding.training_id for o in report.offenses} == {
        order.id,
        lora,
    }


async def test_orders_and_jobs_from_before_durable_submissions_are_read_leniently(
    db: Database,
) -> None:
    """Before migration 0009 an order had no step and jobs were not tied to orders."""
    order = await rows.new_order(db, USER, WALLET)
    await db.execute("UPDATE training_orders SET status = 'submitted' WHERE id = ?", (order.id,))
    credit = await rows.paid_credit(db, USER, WALLET)
    old = iso(rows.now() - timedelta(days=400))
    await db.execute("UPDATE schema_migrations SET applied_at = ? WHERE version = 9", (old,))
    legacy = NewTraining(
        lora_id="legacy",
        request_id="req-legacy",
        wallet=WALLET,
        trigger_word="old",
        steps=1000,
        image_urls=(),
        discord_user_id=USER,
        channel_id=None,
        progress_message_id=None,
        credit_id=credit.id,
        created_at=iso(rows.now() - timedelta(days=500)),
    )
    await trainings.record_submitted(db, credit.id, legacy)
    assert (await auditor(db).run()).ok
