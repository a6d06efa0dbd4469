"""`TrainingDesk`: a /train request from preview to a submitted fal job, Discord-free.

preview → (pay → credit) → submit. A credit pays for exactly one training: it is
reserved before anything is uploaded, given back if fal never accepts the job, and
consumed in the same transaction that writes the web app's `pending` row.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clients.arena import ArenaChannel, ArenaClient, check_image_count, parse_channel_ref
from bot.clients.fal import FalStorage
from bot.clients.fal_training import FalTrainer
from bot.clients.media import MediaFetcher
from bot.errors import NotConfigured, UserFacingError
from bot.services.credits import CreditLedger, CreditUnavailable
from bot.services.payments.prices import Quoter, format_eth
from bot.services.payments.verifier import PaymentResult, PaymentVerifier
from bot.services.training.images import prepare_training_zip, upload_zip
from storage import training_orders, trainings, wallets
from storage.credits import CreditGone
from storage.db import Database
from storage.timefmt import Clock, iso, utc_clock
from storage.training_orders import CANCELLED, DRAFT, SUBMITTING, Order, TrainingSummary
from storage.trainings import NewTraining

log = logging.getLogger(__name__)

TRIGGER_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}")
STEPS_MIN, STEPS_MAX, STEPS_DEFAULT = 100, 4000, 1000


class TrainingRefused(UserFacingError):
    pass


class PaymentRequired(UserFacingError):
    def __init__(self) -> None:
        super().__init__("This training needs a payment first: press Pay.")


def check_trigger_word(text: str) -> str:
    word = text.strip()
    if not TRIGGER_WORD.fullmatch(word):
        raise TrainingRefused(
            "The trigger word must be 2–40 letters, digits, `-` or `_`, starting with a "
            "letter or digit (e.g. `mystyle`). It is the word that calls up your style."
        )
    return word


def check_steps(steps: int) -> int:
    if not STEPS_MIN <= steps <= STEPS_MAX:
        raise TrainingRefused(
            f"Steps must be between {STEPS_MIN} and {STEPS_MAX} (default {STEPS_DEFAULT})."
        )
    return steps


@dataclass(frozen=True, slots=True)
class Price:
    kind: str  # "admin" | "credit" | "quote"
    eth: str | None = None
    usd: str | None = None
    quote_id: str | None = None
    treasury: str | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    order: Order
    channel: ArenaChannel
    price: Price


@dataclass(frozen=True, slots=True)
class Submitted:
    lora_id: str
    request_id: str
    image_count: int
    skipped: int


@dataclass(frozen=True, slots=True)
class PaymentDetails:
    order_id: str
    trigger_word: str
    wallet: str
    treasury: str
    wei: int
    eth: str
    usd: str
    expires_at: str


# Posts the public progress message; returns (channel id, message id) or None.
Announce = Callable[[str, Order], Awaitable[tuple[int, int] | None]]


class TrainingDesk:
    def __init__(
        self,
        db: Database,
        arena: ArenaClient,
        credits: CreditLedger,
        images: MediaFetcher,
        *,
        trainer: FalTrainer | None,
        storage: FalStorage | None,
        quoter: Quoter | None,
        verifier: PaymentVerifier | None,
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
        self.quoter = quoter
        self.verifier = verifier
        self.min_images = min_images
        self.max_images = max_images
        self.clock = clock

    def _require_fal(self) -> tuple[FalTrainer, FalStorage]:
        if self.trainer is None or self.storage is None:
            raise NotConfigured("Training", ["FAL_KEY"])
        return self.trainer, self.storage

    async def preview(
        self, user_id: int, channel_ref: str, trigger_word: str, steps: int
    ) -> Preview:
        word, steps = check_trigger_word(trigger_word), check_steps(steps)
        self._require_fal()
        link = await wallets.get_link(self.db, user_id)
        if link is None:
            raise TrainingRefused("Link a wallet first: run /wallet link, then /train again.")
        channel = await self.arena.fetch_channel(parse_channel_ref(channel_ref))
        check_image_count(len(channel.images), self.min_images, self.max_images)
        now = iso(self.clock())
        order = Order(
            id=secrets.token_hex(16),
            discord_user_id=user_id,
            wallet=link.wallet_address,
            channel_slug=channel.slug,
            channel_title=channel.title[:200],
            trigger_word=word,
            steps=steps,
            image_count=len(channel.images),
            quote_id=None,
            tx_hash=None,
            status=DRAFT,
            lora_training_id=None,
            created_at=now,
        )
        await training_orders.create(self.db, order)
        price = await self._price(order)
        if price.quote_id:
            await training_orders.set_quote(self.db, order.id, price.quote_id, now=now)
        return Preview(order, channel, price)

    async def _price(self, order: Order) -> Price:
        if self.credits.is_admin(order.wallet):
            return Price("admin")
        if await self.credits.available(order.discord_user_id):
            return Price("credit")
        if self.quoter is None or self.verifier is None:
            raise NotConfigured(
                "Paid training", ["BASE_RPC_URL", "TREASURY_ADDRESS", "CHAINLINK_ETH_USD_FEED"]
            )
        quote = await self.quoter.quote(order.wallet, order.discord_user_id)
        return Price(
            "quote",
            eth=format_eth(quote.wei),
            usd=f"${quote.usd:.2f}",
            quote_id=quote.id,
            treasury=self.verifier.treasury,
        )

    async def order_of(self, order_id: str, user_id: int) -> Order:
        order = await training_orders.get(self.db, order_id)
        if order is None:
            raise TrainingRefused("That training request is gone. Run /train again.")
        if order.discord_user_id != user_id:
            raise TrainingRefused("This training request belongs to someone else.")
        return order

    async def pay(self, order_id: str, user_id: int, tx_hash: str | None = None) -> PaymentResult:
        """Verify the payment for an order (`tx_hash` None: the one pasted before)."""
        order = await self.order_of(order_id, user_id)
        if self.verifier is None or order.quote_id is None:
            raise NotConfigured("Paid training", ["BASE_RPC_URL", "TREASURY_ADDRESS"])
        tx = tx_hash or order.tx_hash
        if not tx:
            raise TrainingRefused("Paste the transaction hash of your payment first.")
        if tx_hash:
            await training_orders.set_tx_hash(
                self.db, order.id, tx_hash.strip(), now=iso(self.clock())
            )
        return await self.verifier.verify(order.quote_id, tx, user_id, order.wallet)

    async def payment_details(self, order_id: str) -> PaymentDetails:
        """What the payment page needs: who pays whom how much, until when. The order id
        is the page's only key (random, shown only to its owner); what it reveals is the
        treasury and the price, and a payment only counts from the linked wallet."""
        order = await training_orders.get(self.db, order_id)
        if order is None or order.quote_id is None or order.status != DRAFT:
            raise TrainingRefused("This payment link is not valid any more. Run /train again.")
        if self.quoter is None or self.verifier is None:
            raise NotConfigured("Paid training", ["BASE_RPC_URL", "TREASURY_ADDRESS"])
        quote = await self.quoter.get(order.quote_id)
        if quote is None:
            raise TrainingRefused("This payment link is not valid any more. Run /train again.")
        return PaymentDetails(
            order_id=order.id,
            trigger_word=order.trigger_word,
            wallet=order.wallet,
            treasury=self.verifier.treasury,
            wei=quote.wei,
            eth=format_eth(quote.wei),
            usd=f"${quote.usd:.2f}",
            expires_at=iso(quote.expires_at),
        )

    async def pay_from_page(self, order_id: str, tx_hash: str) -> PaymentResult:
        """The payment page reports a hash: remember it on the order and check it."""
        order = await training_orders.get(self.db, order_id)
        if order is None:
            raise TrainingRefused("This payment link is not valid any more. Run /train again.")
        return await self.pay(order.id, order.discord_user_id, tx_hash)

    async def drop(self, order_id: str, user_id: int) -> None:
        order = await self.order_of(order_id, user_id)
        await training_orders.move(
            self.db, order.id, from_status=DRAFT, to_status=CANCELLED, now=iso(self.clock())
        )

    async def submit(self, order_id: str, user_id: int, announce: Announce) -> Submitted:
        trainer, storage = self._require_fal()
        order = await self.order_of(order_id, user_id)
        if order.status != DRAFT:
            raise TrainingRefused("This training was already submitted (or cancelled).")
        lora_id = secrets.token_hex(16)
        credit = await self.credits.reserve_next(user_id, lora_id)
        if credit is None and self.credits.is_admin(order.wallet):
            admin = await self.credits.admin_credit(user_id, order.wallet)
            credit = await self.credits.reserve(
                admin.id, discord_user_id=user_id, training_id=lora_id
            )
        if credit is None:
            raise PaymentRequired()
        if not await training_orders.move(
            self.db, order.id, from_status=DRAFT, to_status=SUBMITTING, now=iso(self.clock())
        ):
            await self.credits.restore(credit.id, training_id=lora_id)
            raise TrainingRefused("This training is already being submitted.")
        prepared = None
        try:
            # A fresh listing: the channel may have changed since the preview.
            channel = await self.arena.fetch_channel(order.channel_slug)
            check_image_count(len(channel.images), self.min_images, self.max_images)
            prepared = await prepare_training_zip(
                self.images, channel.images, minimum=self.min_images
            )
            zip_url = await upload_zip(storage, prepared.path)
            request_id = await trainer.submit(
                images_data_url=zip_url, trigger_word=order.trigger_word, steps=order.steps
            )
        except BaseException:
            # fal never accepted the job: the credit is kept for the next try.
            await self.credits.restore(credit.id, training_id=lora_id)
            await training_orders.move(
                self.db, order.id, from_status=SUBMITTING, to_status=DRAFT, now=iso(self.clock())
            )
            raise
        finally:
            if prepared is not None:
                prepared.cleanup()
        where = None
        try:
            where = await announce(lora_id, order)
        except Exception:
            log.warning("could not post the progress message", exc_info=True)
        now = iso(self.clock())
        training = NewTraining(
            lora_id=lora_id,
            request_id=request_id,
            wallet=order.wallet,
            trigger_word=order.trigger_word,
            steps=order.steps,
            image_urls=tuple(i.original_url or i.display_url for i in channel.images),
            discord_user_id=user_id,
            channel_id=where[0] if where else None,
            progress_message_id=where[1] if where else None,
            credit_id=credit.id,
            created_at=now,
        )
        try:
            await trainings.record_submitted(self.db, credit.id, training)
        except CreditGone as gone:
            raise CreditUnavailable() from gone
        await training_orders.set_submitted(self.db, order.id, lora_id, now=now)
        log.info("training submitted", extra={"lora_id": lora_id, "request_id": request_id})
        return Submitted(lora_id, request_id, prepared.image_count, len(prepared.skipped))

    async def trainings_of(self, discord_user_id: int) -> list[TrainingSummary]:
        """The user's trainings, newest first, with how each is doing."""
        return await training_orders.list_for_user(self.db, discord_user_id)

    async def cancel(self, lora_id: str, user_id: int) -> bool:
        """Cancel while fal still has it queued; the credit comes back. False: too late."""
        trainer, _ = self._require_fal()
        job = await trainings.job_of(self.db, lora_id)
        if job is None or job.discord_user_id != user_id:
            raise TrainingRefused("That training isn't yours to cancel.")
        if job.status != "pending":
            raise TrainingRefused("That training has already finished.")
        status = await trainer.status(job.request_id)
        if status.state != "queued" or not await trainer.cancel(job.request_id):
            return False
        if await trainings.finish(
            self.db,
            lora_id,
            status="failed",
            weights_url=None,
            error="cancelled by its owner",
            now=iso(self.clock()),
        ):
            await self.credits.restore_for_training(lora_id)
        return True
