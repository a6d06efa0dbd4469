"""TrainingWatcher: the real database, our FalTrainer against a fake fal training queue
over HTTP. The notifier here records what the Discord side would be asked to show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clients.fal import configure_endpoints
from bot.clients.fal_training import FalTrainer, TrainingStatus, progress_from_logs
from bot.services.training.watcher import TrainingOutcome, TrainingWatcher
from storage import credits, training_news, trainings
from storage.credits import Credit
from storage.db import Database
from storage.trainings import NewTraining, WatchedTraining
from tests.fakes.fal_training import FakeFalTraining
from tests.support.gallery_rows import insert_loras, lora_row, new_id


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    def __init__(self, *, fail_finished: int = 0) -> None:
        self.progress: list[tuple[str, TrainingStatus]] = []
        self.finished: list[tuple[str, TrainingOutcome]] = []
        self.fail_finished = fail_finished

    async def progress_hook(self, training: WatchedTraining, status: TrainingStatus) -> None:
        self.progress.append((training.lora_id, status))

    async def finished_hook(self, training: WatchedTraining, outcome: TrainingOutcome) -> None:
        if self.fail_finished:
            self.fail_finished -= 1
            raise RuntimeError("Discord is down")
        self.finished.append((training.lora_id, outcome))


class Notifier:
    """Adapts Recorder to the TrainingNotifier protocol."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def progress(
        self, training: WatchedTraining, status: TrainingStatus | None
    ) -> int | None:
        assert status is not None
        await self.recorder.progress_hook(training, status)
        return None

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> int | None:
        await self.recorder.finished_hook(training, outcome)
        return 99


@pytest.fixture
async def fal() -> AsyncIterator[FakeFalTraining]:
    fake = await FakeFalTraining().start()
    configure_endpoints(fake.base_url)
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def trainer(fal: FakeFalTraining) -> FalTrainer:
    return FalTrainer("fake-key:secret")


async def start_training(db: Database, fal: FakeFalTraining, *, user: int | None = 42) -> str:
    rid = fal.add()
    lora_id = new_id()
    if user is None:  # a training the web app started: no job row
        await insert_loras(
            db, [{**lora_row(lora_id=lora_id, status="pending", weights=None), "request_id": rid}]
        )
        return lora_id
    credit_id = f"credit-{lora_id}"
    await credits.insert(
        db,
        Credit(
            id=credit_id,
            discord_user_id=user,
            wallet="0x1234567890AbcdEF1234567890aBcdef12345678",
            source="admin",
            payment_id=None,
            status="available",
            created_at=datetime(2026, 11, 22, 11, 58, tzinfo=UTC),
        ),
    )
    await trainings.record_submitted(
        db,
        credit_id,
        NewTraining(
            lora_id=lora_id,
            request_id=rid,
            wallet="0x1234567890AbcdEF1234567890aBcdef12345678",
            trigger_word="mystyle",
            steps=1000,
            image_urls=("https://images.are.na/a.jpg",),
            discord_user_id=user,
            channel_id=7,
            progress_message_id=1234,
            credit_id=credit_id,
            created_at="2026-11-22T11:59:00.000Z",
        ),
    )
    return lora_id


def watcher(
    db: Database, trainer: FalTrainer, recorder: Recorder, clock: Clock, owner: str = "p1"
) -> TrainingWatcher:
    return TrainingWatcher(
        db, trainer, Notifier(recorder), clock=clock, owner=owner, progress_interval=0
    )


async def credit_status(db: Database, lora_id: str) -> str:
    credit = await credits.get(db, f"credit-{lora_id}")
    assert credit is not None
    return credit.status


async def status_of(db: Database, lora_id: str) -> dict[str, object]:
    row = await db.fetchone(
        "SELECT status, lora_weights_url FROM lora_trainings WHERE id = ?", (lora_id,)
    )
    assert row is not None
    return row


def test_progress_is_read_from_tqdm_like_logs() -> None:
    logs = [{"message": "loading"}, {"message": " 45%|████▌     | 450/1000 [01:02<01:15]"}]
    assert progress_from_logs(logs) == (450, 1000)
    assert progress_from_logs([{"message": "step 3 of nothing"}]) == (None, None)
    assert progress_from_logs(None) == (None, None)


async def test_a_training_is_followed_to_completion(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    lora_id = await start_training(db, fal)
    recorder = Recorder()
    w = watcher(db, trainer, recorder, Clock())
    for _ in range(6):
        await w.poll_once()
    states = [(s.state, s.queue_position, s.steps_done) for _, s in recorder.progress]
    assert states == [
        ("queued", 2, None),
        ("queued", 0, None),
        ("running", None, 100),
        ("running", None, 500),
    ]
    row = await status_of(db, lora_id)
    assert row["status"] == "completed"
    assert str(row["lora_weights_url"]).endswith("pytorch_lora_weights.safetensors")
    assert [(i, o.status) for i, o in recorder.finished] == [(lora_id, "completed")]
    assert await w.poll_once() == 0  # nothing pending any more; nobody told twice
    assert len(recorder.finished) == 1


async def test_a_failed_training_restores_the_credit(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    fal.mode.script = []
    fal.mode.error = "Not enough images with faces"
    lora_id = await start_training(db, fal)
    recorder = Recorder()
    w = watcher(db, trainer, recorder, Clock())
    assert await credit_status(db, lora_id) == "consumed"
    await w.poll_once()
    assert (await status_of(db, lora_id))["status"] == "failed"
    # Given back in the transaction that marked it failed: no crash falls in between.
    assert await credit_status(db, lora_id) == "available"
    ((_, outcome),) = recorder.finished
    assert outcome.error == "Not enough images with faces"


async def test_missing_weights_file_is_a_failure_not_a_crash(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    fal.mode.script = []
    fal.mode.no_weights = True
    lora_id = await start_training(db, fal)
    await watcher(db, trainer, Recorder(), Clock()).poll_once()
    assert (await status_of(db, lora_id))["status"] == "failed"


async def test_two_processes_never_watch_one_training(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    lora_id = await start_training(db, fal)
    clock = Clock()
    first_log, second_log = Recorder(), Recorder()
    first = watcher(db, trainer, first_log, clock, owner="process-a")
    second = watcher(db, trainer, second_log, clock, owner="process-b")
    assert await first.poll_once() == 1
    assert await second.poll_once() == 0  # leased by process A
    # Process A dies. Once its lease lapses, B takes over and finishes the job.
    clock.now += timedelta(seconds=91)
    for _ in range(6):
        await second.poll_once()
    assert (await status_of(db, lora_id))["status"] == "completed"
    assert [i for i, _ in second_log.finished] == [lora_id]
    assert first_log.finished == []


async def test_fal_down_keeps_the_training_pending(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    lora_id = await start_training(db, fal)
    fal.mode.status_status = 500
    w = watcher(db, trainer, Recorder(), Clock())
    await w.poll_once()
    assert (await status_of(db, lora_id))["status"] == "pending"
    fal.mode.status_status = 200
    for _ in range(6):
        await w.poll_once()
    assert (await status_of(db, lora_id))["status"] == "completed"


async def test_a_failed_notification_is_retried(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    fal.mode.script = []
    lora_id = await start_training(db, fal)
    recorder = Recorder(fail_finished=2)  # the first telling and its same-poll retry fail
    w = watcher(db, trainer, recorder, Clock())
    await w.poll_once()
    assert recorder.finished == []
    await w.poll_once()  # the next poll's catch-up pass tells the user
    assert [(i, o.status, o.weights_url is not None) for i, o in recorder.finished] == [
        (lora_id, "completed", True)
    ]


async def test_web_app_trainings_are_completed_silently(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    fal.mode.script = []
    lora_id = await start_training(db, fal, user=None)
    recorder = Recorder()
    await watcher(db, trainer, recorder, Clock()).poll_once()
    assert (await status_of(db, lora_id))["status"] == "completed"
    assert recorder.finished == [] and recorder.progress == []


async def test_a_training_fal_does_not_know_is_left_alone_and_logged_once(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 404 is no verdict: a web-app row submitted with another fal key stays pending."""
    lora_id = await start_training(db, fal)
    known = await start_training(db, fal)
    fal.trainings.pop(next(iter(fal.trainings)))  # fal forgets the first one (a 404)
    clock = Clock()
    w = watcher(db, trainer, Recorder(), clock)
    with caplog.at_level("WARNING"):
        for _ in range(3):
            await w.poll_once()
            clock.now += timedelta(seconds=30)
    assert (await status_of(db, lora_id))["status"] == "pending"
    assert await credit_status(db, lora_id) == "consumed"  # nothing given back, nothing lost
    assert sum("does not know" in r.message for r in caplog.records) == 1
    # It is looked at again only after an hour, so it never crowds a poll.
    assert [
        t.lora_id
        for t in await trainings.claim(
            db, owner="p1", now="2026-11-22T12:05:00.000Z", until="2026-11-22T12:07:00.000Z"
        )
    ] == [known]


async def test_a_cancellation_counts_once_fal_confirms_it(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    lora_id = await start_training(db, fal)
    next(iter(fal.trainings.values())).cancelled = True  # fal confirmed the cancel
    recorder = Recorder()
    await watcher(db, trainer, recorder, Clock()).poll_once()
    assert (await status_of(db, lora_id))["status"] == "failed"
    assert await credit_status(db, lora_id) == "available"
    ((_, outcome),) = recorder.finished
    assert outcome.cancelled and outcome.error == "cancelled by its owner"


async def test_one_process_tells_at_a_time_and_the_message_id_is_kept(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    fal.mode.script = []
    lora_id = await start_training(db, fal)
    clock = Clock()
    first = watcher(db, trainer, Recorder(), clock, owner="a")
    now = "2026-11-22T12:00:00.000Z"
    # Process A claimed the telling, then died mid-send: B waits for the claim to lapse.
    await trainings.finish(
        db, lora_id, status="completed", weights_url="https://x/w", error=None, now=now
    )
    assert await training_news.claim_telling(db, lora_id, now=now, until="2026-11-22T12:01:00.000Z")
    second_log = Recorder()
    second = watcher(db, trainer, second_log, clock, owner="b")
    await second.poll_once()
    assert second_log.finished == []
    clock.now += timedelta(minutes=2)
    await second.poll_once()
    assert [i for i, _ in second_log.finished] == [lora_id]
    row = await db.fetchone(
        "SELECT notified_at, notice_message_id FROM training_jobs WHERE lora_training_id = ?",
        (lora_id,),
    )
    assert row is not None and row["notice_message_id"] == "99" and row["notified_at"]
    await first.poll_once()
    await second.poll_once()
    assert len(second_log.finished) == 1  # told once


async def test_progress_edits_wait_for_the_interval(
    db: Database, fal: FakeFalTraining, trainer: FalTrainer
) -> None:
    """Discord limits edits: a visible change is shown at most once per interval."""
    await start_training(db, fal)
    recorder = Recorder()
    w = TrainingWatcher(
        db, trainer, Notifier(recorder), clock=Clock(), owner="p1", progress_interval=3600
    )
    for _ in range(4):  # queued 2, queued 0, running 100, running 500: all visible changes
        await w.poll_once()
    assert [(s.state, s.queue_position) for _, s in recorder.progress] == [("queued", 2)]
