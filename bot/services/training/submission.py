"""A paid /train submission, step by step, each step recorded before the next begins.

    credit reserved -> images gathered and zipped -> zip uploaded -> fal asked
        -> fal accepted: the `pending` row, the spent credit and the request id, in one
           transaction, before any Discord call -> progress message posted -> done

The order's row holds the step and a lease that this process renews while it works
(storage/submissions.py). `SubmissionRecovery` runs in every process: an order whose
lease ran out (its process was killed, or hangs) is rolled back to a usable credit,
whatever its age, so "Check payment" and the next /train find the credit instead of
asking to pay again. A job fal accepted after all (a crash between fal's answer and the
write) still reaches the bot through fal's webhook, when webhooks are on
(`PUBLIC_BASE_URL`): `webhook_url` gives fal `/fal/webhook/{order_id}`, and a correctly
signed delivery for an order that reached `submitting` with no request id recorded
records the training then (`submissions.accept_late`, see `webhooks.py`), spending the
order's credit if it is still usable. Without webhooks such a job is not recorded (fal's
queue cannot be listed by the bot); its credit stays usable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.clients.arena import ArenaClient, check_image_count
from bot.clients.fal import FalStorage
from bot.clients.fal_training import FalTrainer
from bot.clients.media import MediaFetcher
from bot.errors import ServiceUnavailable, UserFacingError
from bot.services.credits import CreditLedger, CreditUnavailable
from bot.services.inflight import InFlight
from bot.services.training.images import prepare_training_zip, upload_zip
from storage import submissions
from storage.credits import CreditGone
from storage.db import Database, DatabaseError
from storage.ids import web_app_id
from storage.submissions import OrderBusy
from storage.timefmt import Clock, iso, utc_clock
from storage.training_orders import Order
from storage.trainings import NewTraining, WatchedTraining

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=90)

# Posts the public progress message; returns its id (None: it could not be posted).
Announce = Callable[[WatchedTraining], Awaitable[int | None]]
# The URL fal should call when this order's training ends (None: no webhooks).
WebhookUrl = Callable[[str], str | None]


class PaymentRequired(UserFacingError):
    def __init__(self) -> None:
        super().__init__("This training needs a payment first: press Pay.")


class NotSubmitted(UserFacingError):
    """fal never accepted the job; the credit that would have paid is usable again."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"{why} Your payment is kept as a training credit: press Start training again "
            "in a few minutes, or run /train (it will not ask you to pay again)."
        )
        self.why = why


class LostOrder(Exception):
    """This process no longer holds the order (its lease ran out and it was rolled back)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    lora_id: str
    request_id: str
    image_count: int
    skipped: int


class Submitter:
    def __init__(
        self,
        db: Database,
        arena: ArenaClient,
        credits: CreditLedger,
        images: MediaFetcher,
        trainer: FalTrainer,
        storage: FalStorage,
        *,
        inflight: InFlight,
        owner: str,
        lease: timedelta = DEFAULT_LEASE,
        webhook_url: WebhookUrl = lambda order_id: None,
        min_images: int = 4,
        max_images: int = 200,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.arena = arena
        self.credits = credits
        self.images = images
        self.trainer = trainer
        self.storage = storage
        self.inflight = inflight
        self.owner = owner
        self.lease = lease
        self.webhook_url = webhook_url
        self.min_images = min_images
        self.max_images = max_images
        self.clock = clock

    def _times(self) -> tuple[str, str]:
        now = self.clock()
        return iso(now), iso(now + self.lease)

    async def run(self, order: Order, channel_id: int | None, announce: Announce) -> Submitted:
        async with self.inflight.hold("training submission"):
            return await self._run(order, channel_id, announce)

    async def _run(self, order: Order, channel_id: int | None, announce: Announce) -> Submitted:
        lora_id = web_app_id()
        admin = (
            self.credits.new_admin_credit(order.discord_user_id, order.wallet)
            if self.credits.is_admin(order.wallet)
            else None
        )
        now, until = self._times()
        try:
            credit = await submissions.begin(
                self.db,
                order.id,
                user_id=order.discord_user_id,
                lora_id=lora_id,
                admin_credit=admin,
                channel_id=channel_id,
                owner=self.owner,
                now=now,
                until=until,
            )
        except OrderBusy:
            raise UserFacingError("This training is already being submitted.") from None
        if credit is None:
            raise PaymentRequired()
        log.info(
            "training submission started",
            extra={"order_id": order.id, "lora_id": lora_id, "credit_id": credit.id},
        )
        keeper = asyncio.create_task(self._keep_lease(order.id))
        prepared = None
        try:
            # A fresh listing: the channel may have changed since the preview.
            channel = await self.arena.fetch_channel(order.channel_slug)
            check_image_count(len(channel.images), self.min_images, self.max_images)
            image_urls = tuple(i.original_url or i.display_url for i in channel.images)
            prepared = await prepare_training_zip(
                self.images, channel.images, minimum=self.min_images
            )
            zip_url = await upload_zip(self.storage, prepared.path)
            now, until = self._times()
            if not await submissions.record_uploaded(
                self.db,
                order.id,
                owner=self.owner,
                zip_url=zip_url,
                image_urls=image_urls,
                now=now,
                until=until,
            ) or not await submissions.record_submitting(
                self.db, order.id, owner=self.owner, now=now, until=until
            ):
                raise LostOrder(order.id)
            request_id = await self.trainer.submit(
                images_data_url=zip_url,
                trigger_word=order.trigger_word,
                steps=order.steps,
                webhook_url=self.webhook_url(order.id),
            )
            # Logged before anything else can fail: an operator can always find the job.
            log.info(
                "fal accepted the training",
                extra={"order_id": order.id, "lora_id": lora_id, "request_id": request_id},
            )
            now = iso(self.clock())
            training = NewTraining(
                lora_id=lora_id,
                request_id=request_id,
                wallet=order.wallet,
                trigger_word=order.trigger_word,
                steps=order.steps,
                image_urls=image_urls,
                discord_user_id=order.discord_user_id,
                channel_id=channel_id,
                progress_message_id=None,
                credit_id=credit.id,
                created_at=now,
            )
            await submissions.accept(
                self.db, order.id, owner=self.owner, credit_id=credit.id, training=training
            )
        except (CreditGone, OrderBusy, LostOrder) as lost:
            # Only after this process lost its lease: whoever took the order over has
            # rolled it back; a job fal accepted all the same arrives by webhook.
            log.error("training submission lost its order", extra={"order_id": order.id})
            raise CreditUnavailable() from lost
        except BaseException as exc:
            await asyncio.shield(self._roll_back(order.id))
            if isinstance(exc, ServiceUnavailable):
                raise NotSubmitted(exc.message) from exc
            raise
        finally:
            keeper.cancel()
            if prepared is not None:
                prepared.cleanup()
        await self._announce(order, training, announce)
        return Submitted(lora_id, request_id, prepared.image_count, len(prepared.skipped))

    async def _announce(self, order: Order, training: NewTraining, announce: Announce) -> None:
        """The progress message, after the training is safely recorded. If it cannot be
        posted now, the watcher posts one at its next poll."""
        watched = WatchedTraining(
            lora_id=training.lora_id,
            request_id=training.request_id,
            trigger_word=training.trigger_word,
            wallet=training.wallet,
            discord_user_id=training.discord_user_id,
            channel_id=training.channel_id,
            progress_message_id=None,
            credit_id=training.credit_id,
            state="queued",
            created_at=training.created_at,
        )
        message_id = None
        with contextlib.suppress(Exception):
            message_id = await announce(watched)
        try:
            if message_id is None:
                await submissions.release(self.db, order.id, owner=self.owner)
            else:
                await submissions.record_announced(
                    self.db,
                    order.id,
                    lora_id=training.lora_id,
                    message_id=message_id,
                    now=iso(self.clock()),
                )
        except DatabaseError:
            log.warning("could not record the progress message", exc_info=True)

    async def _roll_back(self, order_id: str) -> None:
        try:
            if await submissions.roll_back(
                self.db, order_id, owner=self.owner, now=iso(self.clock())
            ):
                log.info(
                    "training not submitted; credit usable again", extra={"order_id": order_id}
                )
        except Exception:
            # The lease runs out and SubmissionRecovery rolls it back.
            log.warning("could not roll the submission back", exc_info=True)

    async def _keep_lease(self, order_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with contextlib.suppress(DatabaseError):
                await submissions.renew(self.db, order_id, owner=self.owner, until=self._times()[1])


class SubmissionRecovery:
    """Runs in every process: submissions whose process stopped go back to a usable
    credit. Orders another live process still holds (its lease is fresh) are left
    alone."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        lease: timedelta = DEFAULT_LEASE,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.owner = owner
        self.lease = lease
        self.clock = clock

    async def run_once(self) -> int:
        now = self.clock()
        stalled = await submissions.claim_stalled(
            self.db, owner=self.owner, now=iso(now), until=iso(now + self.lease)
        )
        rolled = 0
        for order in stalled:
            if await submissions.roll_back(
                self.db, order.order_id, owner=self.owner, now=iso(self.clock())
            ):
                rolled += 1
                log.warning(
                    "stalled training submission rolled back; its credit is usable again",
                    extra={
                        "order_id": order.order_id,
                        "step": order.step,
                        "lora_id": order.lora_id,
                    },
                )
        return rolled
