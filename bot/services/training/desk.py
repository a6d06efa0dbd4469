"""`TrainingDesk`: a /train request from preview to a submitted fal job, Discord-free.

preview → (pay → credit) → submit. A credit pays for exactly one training: it is
reserved before anything is uploaded, given back if fal never accepts the job, and
consumed in the same transaction that writes the web app's `pending` row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.clients.arena import ArenaChannel, ArenaClient, check_image_count, parse_channel_ref
from bot.clients.fal import FalStorage
from bot.clients.fal_training import FalTrainer
from bot.clients.media import MediaFetcher
from bot.errors import NotConfigured, UserFacingError
from bot.services.credits import CreditLedger
from bot.services.payments.prices import Quoter, format_eth, readable_wei
from bot.services.payments.verifier import PaymentResult, PaymentVerifier
from bot.services.training.submission import (
    Announce,
    Submitted,
    Submitter,
)
from storage import training_news, training_orders, trainings, wallets
from storage.db import Database
from storage.payments import open_parts
from storage.timefmt import Clock, iso, utc_clock
from storage.training_news import CardFacts, CardPlace
from storage.training_orders import CANCELLED, DRAFT, Order, TrainingSummary

log = logging.getLogger(__name__)

TRIGGER_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}")
STEPS_MIN, STEPS_MAX, STEPS_DEFAULT = 100, 4000, 1000


class TrainingRefused(UserFacingError):
    pass


class TrainingNeedsWallet(TrainingRefused):
    """No linked wallet: the refusal's fix is linking one (faces offer the button)."""

    def __init__(self, then: str) -> None:
        super().__init__(f"Link a wallet first: run /wallet link, then {then}.")


class AlreadySubmitted(TrainingRefused):
    """The order (or this retry of a training) was submitted already: its progress card
    is where to look (`lora_id`: that training, when known)."""

    def __init__(self, lora_id: str | None) -> None:
        super().__init__(
            "This training was already started: its progress card shows how it is doing."
        )
        self.lora_id = lora_id


def retry_order_id(lora_id: str) -> str:
    """The one order that retries a failed training: chosen from the training's id, so
    pressing Train again twice makes one order (and spends one credit), not two."""
    return hashlib.sha256(f"train-again:{lora_id}".encode()).hexdigest()[:32]


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
    wei: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    order: Order
    channel: ArenaChannel
    price: Price


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
    user_name: str = ""
    guild_name: str | None = None
    rest: bool = False  # `wei` is what is still missing after a part was paid


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
        submitter: Submitter | None = None,
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
        self.submitter = submitter
        self.min_images = min_images
        self.max_images = max_images
        self.clock = clock

    def _require_fal(self) -> tuple[FalTrainer, FalStorage]:
        if self.trainer is None or self.storage is None:
            raise NotConfigured("Training", ["FAL_KEY"])
        return self.trainer, self.storage

    async def preview(
        self,
        user_id: int,
        channel_ref: str,
        trigger_word: str,
        steps: int,
        *,
        user_name: str = "",
        guild_name: str | None = None,
        channel_id: int | None = None,
    ) -> Preview:
        """A priced order; `channel_id`: where its progress card will be posted."""
        word, steps = check_trigger_word(trigger_word), check_steps(steps)
        self._require_fal()
        link = await wallets.get_link(self.db, user_id)
        if link is None:
            raise TrainingNeedsWallet("/train again")
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
            discord_user_name=user_name[:100],
            guild_name=guild_name[:100] if guild_name else None,
            channel_id=channel_id,
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
            wei=quote.wei,
            expires_at=quote.expires_at,
        )

    async def order_of(self, order_id: str, user_id: int) -> Order:
        order = await training_orders.get(self.db, order_id)
        if order is None:
            raise TrainingRefused("That training request is gone. Run /train again.")
        if order.discord_user_id != user_id:
            raise TrainingRefused("This training request belongs to someone else.")
        return order

    async def verify(self, order: Order, tx_hash: str) -> PaymentResult:
        """Check `tx_hash` as (part of) the payment of the order's quote, from the
        order's linked wallet. Use `Checkout.settle`, which also starts the training."""
        if self.verifier is None or order.quote_id is None:
            raise NotConfigured("Paid training", ["BASE_RPC_URL", "TREASURY_ADDRESS"])
        return await self.verifier.verify(
            order.quote_id, tx_hash, order.discord_user_id, order.wallet
        )

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
        # After a part was paid, the page sends what is still missing (a top-up).
        paid = await open_parts(self.db, quote.id, order.wallet.lower())
        if self.clock() > quote.expires_at:
            # A payment mined after the quote's window is refused: say so before the
            # page asks any wallet to send one.
            if paid:
                raise TrainingRefused(
                    f"This price quote expired before the rest arrived. The "
                    f"{format_eth(paid)} you sent is recorded and nothing is lost: a server "
                    "admin can check it and grant you a training credit "
                    "(`lora-bot admin grant-credit`)."
                )
            raise TrainingRefused(
                "This price quote has expired (quotes last 15 minutes) and nothing was "
                "charged. Run /train again for a new price."
            )
        wei = readable_wei(max(quote.wei - paid, 0))
        return PaymentDetails(
            order_id=order.id,
            trigger_word=order.trigger_word,
            wallet=order.wallet,
            treasury=self.verifier.treasury,
            wei=wei,
            eth=format_eth(wei),
            usd=f"${quote.usd:.2f}",
            expires_at=iso(quote.expires_at),
            user_name=order.discord_user_name,
            guild_name=order.guild_name,
            rest=paid > 0,
        )

    async def drop(self, order_id: str, user_id: int) -> None:
        order = await self.order_of(order_id, user_id)
        await training_orders.move(
            self.db, order.id, from_status=DRAFT, to_status=CANCELLED, now=iso(self.clock())
        )

    async def submit(
        self, order_id: str, user_id: int, *, channel_id: int | None, announce: Announce
    ) -> Submitted:
        """Submit the order's training (see `submission.py` for its recorded steps)."""
        self._require_fal()
        order = await self.order_of(order_id, user_id)
        if order.status == CANCELLED:
            raise TrainingRefused("This training request was cancelled. Run /train again.")
        if order.status != DRAFT:
            raise AlreadySubmitted(order.lora_training_id)
        if self.submitter is None:
            raise NotConfigured("Training", ["FAL_KEY"])
        return await self.submitter.run(order, channel_id, announce)

    async def trainings_of(self, discord_user_id: int) -> list[TrainingSummary]:
        """The user's trainings, newest first, with how each is doing."""
        return await training_orders.list_for_user(self.db, discord_user_id)

    async def card_of(self, lora_id: str) -> CardFacts | None:
        """What the training's progress card shows besides fal's news."""
        return await training_news.card_facts(self.db, lora_id)

    async def card_place(self, lora_id: str) -> CardPlace | None:
        """Where the training's progress card is (None: not posted yet, or no channel)."""
        return await training_news.card_place(self.db, lora_id)

    async def record_card(self, lora_id: str, message_id: int) -> None:
        """The training's card moved to a fresh message (the old took no more edits)."""
        await training_news.set_progress_message(
            self.db, lora_id, message_id, now=iso(self.clock())
        )

    async def train_again(self, lora_id: str, user_id: int) -> Order:
        """A draft order that retries a failed training with its channel, trigger word
        and steps; `Checkout.train_again` then settles it like any /train's start,
        paid by the credit the failure gave back. Refuses when nothing pays for it
        (the credit was spent since): a /train then quotes a price as usual."""
        job = await trainings.job_of(self.db, lora_id)
        if job is None or job.discord_user_id != user_id:
            raise TrainingRefused("Only the person who started this training can retry it.")
        if job.status == "pending":
            raise AlreadySubmitted(lora_id)
        if job.status != "failed":
            raise TrainingRefused("This training worked: open it with /loras.")
        original = await training_orders.of_training(self.db, lora_id)
        if original is None:
            raise TrainingRefused("I don't know this training's channel any more. Run /train.")
        retry_id = retry_order_id(lora_id)
        existing = await training_orders.get(self.db, retry_id)
        if existing is not None and existing.status != DRAFT:
            raise AlreadySubmitted(existing.lora_training_id)
        link = await wallets.get_link(self.db, user_id)
        if link is None:
            raise TrainingNeedsWallet("press Train again")
        self._require_fal()
        order = existing or Order(
            id=retry_id,
            discord_user_id=user_id,
            wallet=link.wallet_address,
            channel_slug=original.channel_slug,
            channel_title=original.channel_title,
            trigger_word=original.trigger_word,
            steps=original.steps,
            image_count=original.image_count,
            quote_id=None,
            tx_hash=None,
            status=DRAFT,
            lora_training_id=None,
            created_at=iso(self.clock()),
            channel_id=original.channel_id,  # its card goes where the first one was
            discord_user_name=original.discord_user_name,
            guild_name=original.guild_name,
        )
        paid = self.credits.is_admin(order.wallet) or await self.credits.available(user_id)
        if not paid:
            raise TrainingRefused(
                "Your kept training credit has been used since. Run /train with the same "
                "channel to pay for another try."
            )
        if existing is None and not await training_orders.create(self.db, order):
            raise AlreadySubmitted(None)  # another click made it a moment ago
        return order

    async def cancel(self, lora_id: str, user_id: int) -> bool:
        """Ask fal to cancel while it still has the training queued. True: fal took the
        request; the credit comes back once fal confirms the job is cancelled (the
        watcher sees it; if fal ran it anyway, the LoRA is recorded). False: too late."""
        trainer, _ = self._require_fal()
        job = await trainings.job_of(self.db, lora_id)
        if job is None or job.discord_user_id != user_id:
            raise TrainingRefused("That training isn't yours to cancel.")
        if job.status != "pending":
            raise TrainingRefused("That training has already finished.")
        if job.cancel_requested_at is not None:
            return True
        status = await trainer.status(job.request_id)
        if status.state != "queued" or not await trainer.cancel(job.request_id):
            return False
        await trainings.request_cancel(self.db, lora_id, now=iso(self.clock()))
        return True
