"""`TrainingWatcher`: follows every pending training to its end, across restarts.

Each poll claims (or renews) a lease on the pending trainings no other live process
holds, asks fal how each is doing, records progress, and finishes it exactly once:
`completed` with the weights URL, or `failed` with the reason, the credit that paid for
it given back in the same transaction. Only fal's own terminal answer ends a training:
a training fal does not know (a web-app row, another fal account) is left as it is and
logged once, and a cancellation counts once fal confirms it.

The user is told through a `TrainingNotifier` (the Discord side), at least once and
without duplicates: a short claim while one process sends, the message id recorded
only once Discord took it, and a notifier that sends idempotently (a retry after a
crash finds the message the first attempt posted).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.clients.fal import FalUnavailable
from bot.clients.fal_training import FalTrainer, TrainingStatus
from storage import training_news, trainings
from storage.db import Database, DatabaseError
from storage.timefmt import Clock, iso, utc_clock
from storage.trainings import WatchedTraining

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=90)
DEFAULT_PROGRESS_INTERVAL = 15.0  # seconds between edits of one progress message
UNKNOWN_RECHECK = timedelta(hours=1)  # how often a training fal does not know is asked again
CANCELLED = "cancelled by its owner"
# With fal webhooks on, a training's end arrives by webhook within seconds; polling is
# only the fallback (a lost or refused delivery, progress edits), so it runs
# WEBHOOK_POLL_FACTOR times less often, but at least every WEBHOOK_POLL_CAP seconds and
# every half lease (a poll renews the leases: they must not lapse between two polls).
WEBHOOK_POLL_FACTOR = 6
WEBHOOK_POLL_CAP = 300.0


def poll_interval(poll_seconds: float, *, webhooks: bool, lease_seconds: float) -> float:
    """Seconds between the watcher's polls: TRAINING_POLL_SECONDS without webhooks; with
    them WEBHOOK_POLL_FACTOR times that, capped at WEBHOOK_POLL_CAP and at half of
    TRAINING_LEASE_SECONDS (never below TRAINING_POLL_SECONDS itself)."""
    if not webhooks:
        return poll_seconds
    slower = min(poll_seconds * WEBHOOK_POLL_FACTOR, WEBHOOK_POLL_CAP, lease_seconds / 2)
    return max(poll_seconds, slower)


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    status: str  # "completed" | "failed"
    weights_url: str | None
    error: str | None
    cancelled: bool = False  # failed because its owner cancelled it (fal confirmed)


class TrainingNotifier(Protocol):
    async def progress(
        self, training: WatchedTraining, status: TrainingStatus | None
    ) -> int | None:
        """Show how the training is doing. Returns the id of a progress message it
        posted (the first one, or a fresh one when the old no longer takes edits)."""
        ...

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> int | None:
        """Tell the user; the id of the message that told them. Called again after a
        crash mid-send, so it must not post twice."""
        ...


class TrainingWatcher:
    def __init__(
        self,
        db: Database,
        trainer: FalTrainer,
        notifier: TrainingNotifier | None = None,
        *,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.trainer = trainer
        # Set by whoever tells users (the Discord side registers itself when it loads):
        # until then progress is still recorded and the news waits, untold.
        self.notifier = notifier
        # One owner per process: leases name it, so a restarted process starts fresh
        # and picks trainings up once the old leases expire.
        self.owner = owner or secrets.token_hex(8)
        self.lease = lease
        self.progress_interval = progress_interval
        self.clock = clock
        # What each progress message shows and when it was last edited (this process).
        self._shown: dict[str, tuple[tuple[object, ...], float]] = {}

    async def poll_once(self) -> int:
        """Check every training this process may watch; return how many were checked."""
        now = self.clock()
        claimed = await trainings.claim(
            self.db, owner=self.owner, now=iso(now), until=iso(now + self.lease)
        )
        for training in claimed:
            try:
                await self._check(training)
            except (FalUnavailable, DatabaseError) as exc:
                # Try again next poll; the lease keeps others off meanwhile.
                log.warning(
                    "training check failed",
                    extra={"lora_id": training.lora_id, "reason": str(exc)},
                )
        await self._catch_up_notifications()
        return len(claimed)

    async def stop(self) -> None:
        """Hand this process's trainings over to the next process at once."""
        try:
            await trainings.release_leases(self.db, self.owner)
        except DatabaseError:
            log.warning("could not release training leases; they expire by themselves")

    async def check_now(self, training: WatchedTraining) -> TrainingStatus:
        """Look at one training at once (a webhook said it ended, an operator asked);
        returns what fal said."""
        return await self._check(training)

    async def _check(self, training: WatchedTraining) -> TrainingStatus:
        status = await self.trainer.status(training.request_id)
        if status.state == "unknown":
            await self._unknown(training)
            return status
        if status.state in ("queued", "running"):
            await trainings.record_progress(
                self.db,
                training.lora_id,
                state=status.state,
                queue_position=status.queue_position,
                steps_done=status.steps_done,
                steps_total=status.steps_total,
                now=iso(self.clock()),
            )
            await self._show_progress(training, status)
            return status
        await self.finish(training, await self.outcome(training, status))
        return status

    async def outcome(self, training: WatchedTraining, status: TrainingStatus) -> TrainingOutcome:
        """What fal's terminal `status` means for the training (asks fal for the weights
        of a completed one)."""
        if status.state == "cancelled":
            return TrainingOutcome("failed", None, CANCELLED, cancelled=True)
        if status.state == "completed":
            url = await self.trainer.weights_url(training.request_id)
            if url:
                return TrainingOutcome("completed", url, None)
            return TrainingOutcome("failed", None, "fal.ai finished without a weights file")
        return TrainingOutcome("failed", None, status.error or "fal.ai reported an error")

    async def finish(self, training: WatchedTraining, outcome: TrainingOutcome) -> bool:
        """Record the end once (and give the credit back if it failed), then tell the
        user. False: someone else (another process, the web app) finished it first."""
        won = await trainings.finish(
            self.db,
            training.lora_id,
            status=outcome.status,
            weights_url=outcome.weights_url,
            error=outcome.error,
            now=iso(self.clock()),
        )
        self._shown.pop(training.lora_id, None)
        if not won:
            return False
        log.info(
            "training finished",
            extra={"lora_id": training.lora_id, "status": outcome.status, "error": outcome.error},
        )
        await self._tell(training, outcome)
        return True

    async def _unknown(self, training: WatchedTraining) -> None:
        """Not fal's (or no longer): leave the row as its writer left it."""
        now = self.clock()
        first = await trainings.mark_unknown(
            self.db, training.lora_id, now=iso(now), next_check_at=iso(now + UNKNOWN_RECHECK)
        )
        if first:
            log.warning(
                "fal.ai does not know this training; left as it is",
                extra={"lora_id": training.lora_id, "request_id": training.request_id},
            )

    async def _show_progress(self, training: WatchedTraining, status: TrainingStatus) -> None:
        notifier = self.notifier
        if training.discord_user_id is None or notifier is None or training.channel_id is None:
            return
        # The time left counts in whole minutes: the card shows it as a live timestamp.
        eta = None if status.eta_seconds is None else status.eta_seconds // 60
        visible = (status.state, status.queue_position, status.steps_done, status.steps_total, eta)
        last = self._shown.get(training.lora_id)
        now = time.monotonic()
        if training.progress_message_id is not None and last is not None:
            # Only what a reader would see change, and not more often than the interval
            # (with jitter, so many trainings do not edit in step).
            interval = self.progress_interval * random.uniform(0.8, 1.2)
            if last[0] == visible or now - last[1] < interval:
                return
        try:
            posted = await notifier.progress(training, status)
        except Exception:
            log.warning(
                "progress update failed", extra={"lora_id": training.lora_id}, exc_info=True
            )
            return
        self._shown[training.lora_id] = (visible, now)
        if posted is not None:
            await training_news.set_progress_message(
                self.db, training.lora_id, posted, now=iso(self.clock())
            )

    async def _tell(self, training: WatchedTraining, outcome: TrainingOutcome) -> None:
        notifier = self.notifier
        if training.discord_user_id is None or notifier is None:
            return
        now = self.clock()
        # The claim lasts one lease: a process that died mid-send is replaced as soon as
        # one that died watching would be.
        if not await training_news.claim_telling(
            self.db, training.lora_id, now=iso(now), until=iso(now + self.lease)
        ):
            return  # told already, or another process is telling right now
        try:
            message_id = await notifier.finished(training, outcome)
        except Exception:
            log.warning("could not tell the user; will retry", exc_info=True)
            await training_news.release_telling(self.db, training.lora_id)
            return
        except BaseException:
            # Stopped mid-send (a graceful stop): the next process tells at once (the
            # notifier's nonce keeps a message that did go out from being posted twice).
            await asyncio.shield(training_news.release_telling(self.db, training.lora_id))
            raise
        await training_news.record_told(
            self.db, training.lora_id, message_id=message_id, now=iso(self.clock())
        )

    async def _catch_up_notifications(self) -> None:
        """A process that stopped between finishing and telling left users untold."""
        if self.notifier is None:
            return
        for done in await training_news.unnotified_finished(self.db):
            cancelled = done.error == CANCELLED
            await self._tell(
                done.training,
                TrainingOutcome(done.status, done.weights_url, done.error, cancelled=cancelled),
            )
