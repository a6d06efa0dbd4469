"""`submissions.accept_late`: a lost submission recorded from fal's signed webhook, with
the order's credit if it is still usable, or without one and the reason for an audit."""

from __future__ import annotations

import secrets

import pytest

from storage import credits, submissions, training_orders, trainings
from storage.db import Database
from storage.submissions import NotRecoverable, OrderBusy
from storage.training_orders import Order
from tests.unit.storage.test_record_submitted import NOW, USER, WALLET, new_credit, training

LATER = "2026-11-22T12:05:00.000Z"
LEASE_GONE = "2026-11-22T11:59:00.000Z"
LEASE_FRESH = "2026-11-22T13:00:00.000Z"


async def order_at(db: Database, step: str, *, until: str = LEASE_GONE) -> tuple[str, str]:
    """An order a process took to `step` (then died); returns (order id, credit id)."""
    order_id = secrets.token_hex(16)
    await training_orders.create(
        db,
        Order(
            id=order_id,
            discord_user_id=USER,
            wallet=WALLET,
            channel_slug="my-moodboard",
            channel_title="Mood",
            trigger_word="mystyle",
            steps=1000,
            image_count=6,
            quote_id=None,
            tx_hash=None,
            status="draft",
            lora_training_id=None,
            created_at=NOW,
        ),
    )
    credit = await new_credit(db)
    reserved = await submissions.begin(
        db,
        order_id,
        user_id=USER,
        lora_id="dead-lora",
        admin_credit=None,
        channel_id=7,
        owner="dead",
        now=NOW,
        until=until,
    )
    assert reserved is not None and reserved.id == credit.id
    if step in ("uploaded", "submitting"):
        assert await submissions.record_uploaded(
            db,
            order_id,
            owner="dead",
            zip_url="https://v3.fal.media/x.zip",
            image_urls=("https://images.are.na/a.jpg",),
            now=NOW,
            until=until,
        )
    if step == "submitting":
        assert await submissions.record_submitting(db, order_id, owner="dead", now=NOW, until=until)
    return order_id, credit.id


async def test_a_rolled_back_order_spends_its_credit_again(db: Database) -> None:
    order_id, credit_id = await order_at(db, "submitting")
    assert await submissions.roll_back(db, order_id, owner=None, now=NOW)
    late = await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="new-lora")
    assert late.recorded and late.lora_id == "new-lora" and late.credit_id == credit_id
    credit = await credits.get(db, credit_id)
    assert credit is not None and (credit.status, credit.training_id) == ("consumed", "new-lora")
    row = await db.fetchone(
        "SELECT t.status, t.request_id, j.credit_id, j.channel_id, j.audit_note "
        "FROM lora_trainings t JOIN training_jobs j ON j.lora_training_id = t.id"
    )
    assert row is not None
    assert (row["status"], row["request_id"], row["credit_id"], row["channel_id"]) == (
        "pending",
        "req-late",
        credit_id,
        "7",
    )
    assert "paid by credit" in row["audit_note"]
    # A repeated delivery changes nothing.
    again = await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="other")
    assert not again.recorded and again.lora_id == "new-lora"
    assert len(await db.fetchall("SELECT id FROM lora_trainings")) == 1


async def test_a_stalled_order_still_submitting_uses_its_reserved_credit(db: Database) -> None:
    order_id, credit_id = await order_at(db, "submitting")
    late = await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="new-lora")
    assert late.lora_id == "dead-lora" and late.credit_id == credit_id
    assert not await submissions.roll_back(db, order_id, owner=None, now=LATER)


async def test_a_live_submission_is_left_to_its_process(db: Database) -> None:
    order_id, _ = await order_at(db, "submitting", until=LEASE_FRESH)
    with pytest.raises(OrderBusy):
        await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="new-lora")
    assert await db.fetchall("SELECT id FROM lora_trainings") == []


async def test_a_credit_spent_meanwhile_is_not_spent_twice(db: Database) -> None:
    order_id, credit_id = await order_at(db, "submitting")
    assert await submissions.roll_back(db, order_id, owner=None, now=NOW)
    # The user trained something else with that credit before the webhook came.
    await trainings.record_submitted(db, credit_id, training("other-lora", credit_id))
    late = await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="new-lora")
    assert late.recorded and late.credit_id is None
    assert late.note is not None and "no credit" in late.note and "other-lora" in late.note
    job = await db.fetchone(
        "SELECT credit_id, audit_note FROM training_jobs WHERE request_id = 'req-late'"
    )
    assert job == {"credit_id": None, "audit_note": late.note}
    credit = await credits.get(db, credit_id)
    assert credit is not None and credit.training_id == "other-lora"


@pytest.mark.parametrize("step", ["reserved", "uploaded"])
async def test_an_order_fal_was_never_asked_about_is_not_recovered(db: Database, step: str) -> None:
    order_id, _ = await order_at(db, step)
    assert await submissions.roll_back(db, order_id, owner=None, now=NOW)
    with pytest.raises(NotRecoverable, match="never reached"):
        await submissions.accept_late(db, order_id, "req-late", LATER, new_lora_id="new-lora")
    assert await db.fetchall("SELECT id FROM lora_trainings") == []


async def test_another_request_id_or_order_is_refused(db: Database) -> None:
    order_id, credit_id = await order_at(db, "submitting")
    await submissions.accept(
        db,
        order_id,
        owner="dead",
        credit_id=credit_id,
        training=training("dead-lora", credit_id),
    )
    with pytest.raises(NotRecoverable, match="another request id"):
        await submissions.accept_late(db, order_id, "req-other", LATER, new_lora_id="x")
    other_id, _ = await order_at(db, "submitting")
    with pytest.raises(NotRecoverable, match="another training"):
        await submissions.accept_late(db, other_id, "req-dead-lora", LATER, new_lora_id="x")
    with pytest.raises(NotRecoverable, match="no such order"):
        await submissions.accept_late(db, "missing", "req-x", LATER, new_lora_id="x")
