"""`trainings.record_submitted`: the credit, the `pending` row and the job, all or nothing."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from storage import credits, trainings
from storage.credits import Credit, CreditGone
from storage.db import Database
from storage.trainings import NewTraining

USER = 4242
WALLET = "0x000000000000000000000000000000000000bEEF"
NOW = "2026-11-22T12:00:00.000Z"


async def new_credit(db: Database) -> Credit:
    credit = Credit(
        id=secrets.token_hex(16),
        discord_user_id=USER,
        wallet=WALLET,
        source="payment",
        payment_id=None,
        status="available",
        created_at=datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
    )
    await credits.insert(db, credit)
    return credit


def training(lora_id: str, credit_id: str) -> NewTraining:
    return NewTraining(
        lora_id=lora_id,
        request_id=f"req-{lora_id}",
        wallet=WALLET,
        trigger_word="mystyle",
        steps=1000,
        image_urls=("https://images.are.na/a.jpg", "https://images.are.na/b.jpg"),
        discord_user_id=USER,
        channel_id=7,
        progress_message_id=99,
        credit_id=credit_id,
        created_at=NOW,
    )


async def counts(db: Database) -> tuple[int, int]:
    rows = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM lora_trainings) AS loras, "
        "(SELECT COUNT(*) FROM training_jobs) AS jobs"
    )
    assert rows is not None
    return int(rows["loras"]), int(rows["jobs"])


async def test_spends_the_credit_and_writes_the_pending_row_and_the_job(db: Database) -> None:
    credit = await new_credit(db)
    assert await credits.reserve(db, credit.id, "t1", USER, now=NOW) is not None

    await trainings.record_submitted(db, credit.id, training("t1", credit.id))

    spent = await credits.get(db, credit.id)
    assert spent is not None
    assert (spent.status, spent.training_id) == ("consumed", "t1")
    assert await counts(db) == (1, 1)
    job = await trainings.job_of(db, "t1")
    assert job == trainings.TrainingJob("t1", "req-t1", USER, "pending")
    row = await db.fetchone("SELECT status, image_urls FROM lora_trainings WHERE id = 't1'")
    assert row is not None and row["status"] == "pending"
    assert row["image_urls"] == '["https://images.are.na/a.jpg", "https://images.are.na/b.jpg"]'


async def test_a_credit_reserved_for_another_training_rolls_everything_back(
    db: Database,
) -> None:
    credit = await new_credit(db)
    assert await credits.reserve(db, credit.id, "t1", USER, now=NOW) is not None

    with pytest.raises(CreditGone):
        await trainings.record_submitted(db, credit.id, training("t2", credit.id))

    assert await counts(db) == (0, 0)
    assert await trainings.job_of(db, "t2") is None
    kept = await credits.get(db, credit.id)
    assert kept is not None
    assert (kept.status, kept.training_id, kept.consumed_at) == ("reserved", "t1", None)


async def test_a_consumed_or_missing_credit_writes_nothing(db: Database) -> None:
    credit = await new_credit(db)
    await trainings.record_submitted(db, credit.id, training("t1", credit.id))

    with pytest.raises(CreditGone):  # already spent on t1
        await trainings.record_submitted(db, credit.id, training("t2", credit.id))
    with pytest.raises(CreditGone):
        await trainings.record_submitted(db, "no-such-credit", training("t3", "no-such-credit"))

    assert await counts(db) == (1, 1)
    spent = await credits.get(db, credit.id)
    assert spent is not None and spent.training_id == "t1"
