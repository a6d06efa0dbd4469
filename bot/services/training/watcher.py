"""`TrainingWatcher`: follows every pending training to its end, across restarts.

Each poll claims (or renews) a lease on the pending trainings no other live process
holds, asks fal how each is doing, records progress, and finishes it exactly once:
`completed` with the weights URL, or `failed` with the reason (the credit that paid for
it comes back). The user is told through a `TrainingNotifier` (the Discord side).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.clients.fal import FalUnavailable
from bot.clients.fal_training import FalTrainer, TrainingStatus
from storage import trainings
from storage.db import Database, DatabaseError
from storage.timefmt import Clock, iso, utc_clock
from storage.trainings import WatchedTraining

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    status: str  # "completed" | "failed"
    weights_url: str | None
    error: str | None


class TrainingNotifier(Protocol):
    async def progress(self, training: WatchedTraining, status: TrainingStatus) -> None: ...

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> None: ...


# Gives back the credit that paid for a training, by the training's id.
CreditRestorer = Callable[[str], Awaitable[object]]


class TrainingWatcher:
    def __init__(
        self,
        db: Database,
        trainer: FalTrainer,
        notifier: TrainingNotifier | None = None,
        *,
        restore_credit: CreditRestorer | None = None,
        owner: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.trainer = trainer
        # Set by whoever tells users (the Discord side registers itself when it loads):
        # until then progress is still recorded and the news waits, untold.
        self.notifier = notifier
        self.restore_credit = restore_credit
        # One owner per process: leases name it, so a restarted process starts fresh
        # and picks trainings up once the old leases expire.
        self.owner = owner or secrets.token_hex(8)
        self.lease = lease
        self.clock = clock

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

    async def _check(self, training: WatchedTraining) -> None:
        status = await self.trainer.status(training.request_id)
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
            if training.discord_user_id is not None and self.notifier is not None:
                try:
                    await self.notifier.progress(training, status)
                except Exception:
                    log.warning("progress update failed", exc_info=True)
            return
        if status.state == "completed":
            url = await self.trainer.weights_url(training.request_id)
            outcome = (
                TrainingOutcome("completed", url, None)
                if url
                else TrainingOutcome("failed", None, "fal.ai finished without a weights file")
            )
        else:
            outcome = TrainingOutcome("failed", None, status.error or "fal.ai reported an error")
        won = await trainings.finish(
            self.db,
            training.lora_id,
            status=outcome.status,
            weights_url=outcome.weights_url,
            error=outcome.error,
            now=iso(self.clock()),
        )
        if not won:
            return  # someone else finished it first
        log.info(
            "training finished",
            extra={"lora_id": training.lora_id, "status": outcome.status, "error": outcome.error},
        )
        if outcome.status == "failed" and training.credit_id and self.restore_credit is not None:
            # Money is never lost: the payment becomes a credit for the next /train.
            await self.restore_credit(training.lora_id)
        await self._tell(training, outcome)

    async def _tell(self, training: WatchedTraining, outcome: TrainingOutcome) -> None:
        notifier = self.notifier
        if training.discord_user_id is None or notifier is None:
            return
        if not await trainings.claim_notification(self.db, training.lora_id, now=iso(self.clock())):
            return
        try:
            await notifier.finished(training, outcome)
        except Exception:
            log.warning("could not tell the user; will retry", exc_info=True)
            await trainings.release_notification(self.db, training.lora_id)

    async def _catch_up_notifications(self) -> None:
        """A process that stopped between finishing and telling left users untold."""
        for done in await trainings.unnotified_finished(self.db):
            await self._tell(
                done.training, TrainingOutcome(done.status, done.weights_url, done.error)
            )
