"""`Checkout`: verify a payment for an order and start its training, in one place.

Every road a payment takes goes through `settle()`: the hash pasted in Discord, the
"Check payment" button, the payment page's report, and the `PaymentScanner` that finds
payments on Base by itself (`bot/services/payments/scanner.py`). The same checks, the same UNIQUE claim on the transaction
(`PaymentVerifier`), the same start: asking twice, or from two roads at once, claims a
payment once and submits the order once (`submissions.begin` holds it).

What a settlement can be:

- `PaymentPending`: seen, not confirmed yet; ask again (`retry_after`).
- `PaymentPartial`: confirmed, less than the quote; recorded, and a second transaction
  from the same wallet before the quote expires tops it up.
- `Started` / `Starting`: paid (now, or a credit the user already had); the training
  was submitted (or is being submitted in the background, for the payment page).
- `CreditKept`: a payment verified for an order that was already submitted or
  cancelled (a careless second payment): it stays a credit the next /train spends.
- `AlreadyStarted`: nothing new; this order's training was submitted before (the
  desk's `AlreadySubmitted`, from a second road a moment earlier, ends the same way).

`train_again` retries a failed training through the same `settle`, paid by the credit
the failure kept: its order's id is chosen from the training's, so it spends one credit.

A bot killed at any point leaves a verified payment as a usable credit (or its
training): the claim and the credit are one transaction, and a submission that did not
finish is rolled back to the credit (`submission.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from bot.errors import UserFacingError
from bot.services.payments.refusals import PaymentAlreadyUsed
from bot.services.payments.verifier import PaymentPartial, PaymentPending, PaymentVerified
from bot.services.training.desk import AlreadySubmitted, TrainingDesk, TrainingRefused
from bot.services.training.submission import Submitted
from storage import training_orders
from storage.timefmt import iso
from storage.training_orders import CANCELLED, DRAFT, Order
from storage.trainings import WatchedTraining

log = logging.getLogger(__name__)


class CheckoutFollower(Protocol):
    """How a face shows an order's payment and start (Discord: the /train preview and
    the progress card). Each call is best effort: a failure is logged, not raised."""

    async def announce(self, training: WatchedTraining) -> int | None:
        """Post the training's progress card; its message id (None: not posted)."""

    async def payment_seen(self, order: Order, seen: PaymentPending | PaymentPartial) -> None:
        """A payment for the order is under way (not confirmed, or not enough yet)."""

    async def started(self, order: Order, submitted: Submitted) -> None: ...

    async def not_started(self, order: Order, error: UserFacingError) -> None: ...


@dataclass(frozen=True, slots=True)
class Started:
    submitted: Submitted
    payment: PaymentVerified | None  # None: paid by a credit the user already had


@dataclass(frozen=True, slots=True)
class Starting:
    """Paid; the training is being submitted in the background (the follower says how
    it went)."""

    payment: PaymentVerified | None


@dataclass(frozen=True, slots=True)
class CreditKept:
    payment: PaymentVerified


@dataclass(frozen=True, slots=True)
class AlreadyStarted:
    lora_id: str | None


Settlement = Started | Starting | PaymentPending | PaymentPartial | CreditKept | AlreadyStarted


class Checkout:
    def __init__(self, desk: TrainingDesk) -> None:
        self.desk = desk
        self.follower: CheckoutFollower | None = None  # set by the face that shows it
        self._starts: set[asyncio.Task[None]] = set()

    async def settle(
        self,
        order_id: str,
        tx_hash: str | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        background: bool = False,
    ) -> Settlement:
        """Check `tx_hash` (None: the one reported before, or a credit the user already
        has) as the payment for the order, and start its training once it is paid.

        `user_id`: who asks (None: the payment page or a scanner, which know only the
        order; the payment must then come from the order's linked wallet, as always).
        `channel_id`: where the progress card goes when the order has none recorded.
        `background`: start the training in a task and return `Starting` at once.
        Raises `TrainingRefused`, a `PaymentRefused`, or what the start raises."""
        order = await training_orders.get(self.desk.db, order_id)
        if order is None:
            raise TrainingRefused("That training request is gone. Run /train again.")
        if user_id is not None and order.discord_user_id != user_id:
            raise TrainingRefused("This training request belongs to someone else.")
        if order.status != DRAFT:
            return await self._after_submission(order, tx_hash)
        payment: PaymentVerified | None = None
        if tx_hash is None and (
            self.desk.credits.is_admin(order.wallet)
            or await self.desk.credits.available(order.discord_user_id)
        ):
            pass  # an admin wallet, or paid already (the page verified it, a credit): go
        else:
            tx = tx_hash or order.tx_hash
            if not tx:
                raise TrainingRefused("Paste the transaction hash of your payment first.")
            if tx_hash:
                await training_orders.set_tx_hash(
                    self.desk.db, order.id, tx_hash.strip(), now=iso(self.desk.clock())
                )
            try:
                result = await self.desk.verify(order, tx)
            except PaymentAlreadyUsed as used:
                # Claimed a moment ago by another road (the page and a click at once):
                # its credit pays, if it is still there.
                if not used.by_you or not await self.desk.credits.available(order.discord_user_id):
                    raise
                result = None
            if isinstance(result, PaymentPending | PaymentPartial):
                if self.follower is not None:
                    await self._tell("payment", self.follower.payment_seen(order, result))
                return result
            payment = result
        where = order.channel_id or channel_id
        if background:
            task = asyncio.create_task(self._start_quietly(order, where), name="training start")
            self._starts.add(task)
            task.add_done_callback(self._starts.discard)
            return Starting(payment)
        try:
            submitted = await self._start(order, where)
        except AlreadySubmitted as exc:
            return AlreadyStarted(exc.lora_id)  # another road submitted it a moment ago
        return Started(submitted, payment)

    async def train_again(
        self, lora_id: str, user_id: int, *, channel_id: int | None = None
    ) -> Settlement:
        """Retry a failed training with its channel, trigger word and steps (the desk's
        `train_again` makes the one retry order), settled like any credit-paid start."""
        try:
            order = await self.desk.train_again(lora_id, user_id)
        except AlreadySubmitted as exc:
            return AlreadyStarted(exc.lora_id)
        return await self.settle(order.id, user_id=user_id, channel_id=channel_id)

    async def _after_submission(self, order: Order, tx_hash: str | None) -> Settlement:
        """The order was submitted (or cancelled): a new payment for it stays a credit."""
        if tx_hash is None and order.status == CANCELLED:
            raise TrainingRefused("This training request was cancelled. Run /train again.")
        if tx_hash is None or (order.tx_hash and order.tx_hash.lower() == tx_hash.strip().lower()):
            return AlreadyStarted(order.lora_training_id)
        try:
            result = await self.desk.verify(order, tx_hash)
        except PaymentAlreadyUsed as used:
            if used.by_you:
                return AlreadyStarted(order.lora_training_id)
            raise
        if isinstance(result, PaymentVerified):
            log.info("payment kept as a credit", extra={"order_id": order.id})
            return CreditKept(result)
        return result

    async def _start(self, order: Order, channel_id: int | None) -> Submitted:
        try:
            submitted = await self.desk.submit(
                order.id, order.discord_user_id, channel_id=channel_id, announce=self._announce
            )
        except AlreadySubmitted:
            raise  # nothing to tell: it is under way
        except UserFacingError as exc:
            if self.follower is not None:
                await self._tell("not_started", self.follower.not_started(order, exc))
            raise
        if self.follower is not None:
            await self._tell("started", self.follower.started(order, submitted))
        return submitted

    async def _start_quietly(self, order: Order, channel_id: int | None) -> None:
        try:
            await self._start(order, channel_id)
        except UserFacingError:
            pass  # the follower was told; the payment is a usable credit
        except Exception:
            log.exception("training start failed", extra={"order_id": order.id})

    async def _announce(self, training: WatchedTraining) -> int | None:
        if self.follower is None:
            return None  # the watcher posts the progress card at its next poll
        return await self.follower.announce(training)

    async def _tell(self, what: str, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            log.warning("could not show the %s", what, exc_info=True, extra={"event": what})


__all__ = [
    "AlreadyStarted",
    "Checkout",
    "CheckoutFollower",
    "CreditKept",
    "Settlement",
    "Started",
    "Starting",
]
