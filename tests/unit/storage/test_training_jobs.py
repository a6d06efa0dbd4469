"""`trainings.job_of` and `training_orders.list_for_user`: dataclasses, never rows."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import credits, training_orders, trainings
from storage.credits import Credit
from storage.db import Database
from storage.training_orders import TrainingSummary
from storage.trainings import NewTraining
from tests.support.gallery_rows import insert_loras, lora_row

ALICE, BOB = 42, 43
WALLET = "0x1234567890AbcdEF1234567890aBcdef12345678"


async def submit(db: Database, lora_id: str, user: int, created_at: str, word: str) -> None:
    credit_id = f"credit-{lora_id}"
    await credits.insert(
        db,
        Credit(
            id=credit_id,
            discord_user_id=user,
            wallet=WALLET,
            source="admin",
            payment_id=None,
            status="available",
            created_at=datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
        ),
    )
    await trainings.record_submitted(
        db,
        credit_id,
        NewTraining(
            lora_id=lora_id,
            request_id=f"req-{lora_id}",
            wallet=WALLET,
            trigger_word=word,
            steps=1000,
            image_urls=(),
            discord_user_id=user,
            channel_id=None,
            progress_message_id=None,
            credit_id=credit_id,
            created_at=created_at,
        ),
    )


async def test_job_of_names_the_request_the_owner_and_the_status(db: Database) -> None:
    await submit(db, "a1", ALICE, "2026-11-22T12:00:00.000Z", "first")
    assert await trainings.job_of(db, "a1") == trainings.TrainingJob(
        "a1", "req-a1", ALICE, "pending"
    )

    await trainings.finish(
        db, "a1", status="failed", weights_url=None, error="boom", now="2026-11-22T13:00:00.000Z"
    )
    job = await trainings.job_of(db, "a1")
    assert job is not None and job.status == "failed"


async def test_job_of_is_none_without_a_bot_job(db: Database) -> None:
    web_only = lora_row(status="pending", weights=None)
    await insert_loras(db, [web_only])
    assert await trainings.job_of(db, web_only["id"]) is None
    assert await trainings.job_of(db, "no-such-training") is None


async def test_list_for_user_gives_summaries_newest_first(db: Database) -> None:
    await submit(db, "a1", ALICE, "2026-11-22T12:00:00.000Z", "first")
    await submit(db, "a2", ALICE, "2026-11-22T12:05:00.000Z", "second")
    await submit(db, "b1", BOB, "2026-11-22T12:10:00.000Z", "bobs")
    await trainings.record_progress(
        db,
        "a2",
        state="running",
        queue_position=None,
        steps_done=250,
        steps_total=1000,
        now="2026-11-22T12:06:00.000Z",
    )
    await trainings.finish(
        db, "a1", status="failed", weights_url=None, error="boom", now="2026-11-22T12:07:00.000Z"
    )

    listed = await training_orders.list_for_user(db, ALICE)

    assert listed == [
        TrainingSummary(
            lora_id="a2",
            trigger_word="second",
            status="pending",
            state="running",
            steps_done=250,
            steps_total=1000,
            queue_position=None,
            error=None,
            created_at="2026-11-22T12:05:00.000Z",
        ),
        TrainingSummary(
            lora_id="a1",
            trigger_word="first",
            status="failed",
            state="failed",
            steps_done=None,
            steps_total=None,
            queue_position=None,
            error="boom",
            created_at="2026-11-22T12:00:00.000Z",
        ),
    ]
    assert [s.lora_id for s in await training_orders.list_for_user(db, ALICE, limit=1)] == ["a2"]
    assert await training_orders.list_for_user(db, 999) == []
