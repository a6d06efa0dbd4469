"""Payments, credits, orders and trainings made with the real storage functions (the
same calls /train makes), for the operator tools' tests."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage import credits, payments, submissions, training_news, training_orders, trainings
from storage.credits import Credit
from storage.db import Database
from storage.payments import NewPayment, Quote
from storage.timefmt import iso, stored
from storage.training_orders import Order
from storage.trainings import NewTraining

OWNER = "bot-process-1"


def now() -> datetime:
    return datetime.now(UTC)


async def link_wallet(db: Database, discord_user_id: int, wallet: str) -> None:
    await db.execute(
        "INSERT INTO wallet_links (discord_user_id, wallet_address, proof, linked_at) "
        "VALUES (?, ?, 'eoa', ?)",
        (str(discord_user_id), wallet, iso(now())),
    )


async def paid_credit(
    db: Database, user: int, wallet: str, *, at: datetime | None = None, wei: int = 10**15
) -> Credit:
    """A quote, a verified payment of it and the credit it bought (`payments.claim`)."""
    at = at or now()
    quote = await new_quote(db, user, wallet, at=at, wei=wei)
    payment = _payment_of(quote, wei)
    credit = _credit_for(payment, at)
    assert await payments.claim(db, payment, credit, now=iso(at))
    return credit


async def new_quote(db: Database, user: int, wallet: str, *, at: datetime, wei: int) -> Quote:
    quote = Quote(
        id=secrets.token_hex(8),
        discord_user_id=user,
        wallet=wallet,
        usd=Decimal(4),
        wei=wei,
        eth_usd=Decimal(4000),
        created_at=at,
        expires_at=at + timedelta(minutes=15),
        created_block=100,
    )
    await payments.insert_quote(db, quote)
    return quote


async def paid_part(
    db: Database, quote: Quote, wei: int, *, at: datetime | None = None
) -> payments.Claimed:
    """A verified transaction paying `wei` toward `quote` (`payments.claim_toward`)."""
    payment = _payment_of(quote, wei)
    claimed = await payments.claim_toward(
        db, payment, _credit_for(payment, at or now()), needed_wei=quote.wei, now=iso(at or now())
    )
    assert claimed is not None
    return claimed


def _payment_of(quote: Quote, wei: int) -> NewPayment:
    user, wallet = quote.discord_user_id, quote.wallet
    return NewPayment(
        id=secrets.token_hex(8),
        tx_hash="0x" + secrets.token_hex(32),
        payer=wallet.lower(),
        quote_id=quote.id,
        discord_user_id=user,
        wallet=wallet,
        value_wei=wei,
        kind="transfer",
        chain_id=8453,
        block_number=101,
        block_hash="0x" + secrets.token_hex(32),
    )


def _credit_for(payment: NewPayment, at: datetime) -> Credit:
    return Credit(
        id=secrets.token_hex(16),
        discord_user_id=payment.discord_user_id,
        wallet=payment.wallet,
        source="payment",
        payment_id=payment.id,
        status="available",
        created_at=stored(at),
    )


async def new_order(db: Database, user: int, wallet: str, *, at: datetime | None = None) -> Order:
    order = Order(
        id=secrets.token_hex(8),
        discord_user_id=user,
        wallet=wallet,
        channel_slug="my-channel",
        channel_title="My channel",
        trigger_word="mystyle",
        steps=1000,
        image_count=10,
        quote_id=None,
        tx_hash=None,
        status="draft",
        lora_training_id=None,
        created_at=iso(at or now()),
    )
    await training_orders.create(db, order)
    return order


async def begin(
    db: Database, user: int, wallet: str, *, at: datetime | None = None, lease: timedelta
) -> tuple[Order, Credit, str]:
    """A submission that reserved the user's oldest credit (`submissions.begin`)."""
    at = at or now()
    order = await new_order(db, user, wallet, at=at)
    lora_id = secrets.token_hex(16)
    credit = await submissions.begin(
        db,
        order.id,
        user_id=user,
        lora_id=lora_id,
        admin_credit=None,
        channel_id=7,
        owner=OWNER,
        now=iso(at),
        until=iso(at + lease),
    )
    assert credit is not None
    return order, credit, lora_id


async def submitted(
    db: Database, user: int, wallet: str, *, request_id: str | None = None
) -> tuple[Order, Credit, str]:
    """A whole paid submission, as the Submitter records it: reserved, then accepted
    by fal (the credit spent, the `pending` row and the job in one transaction)."""
    order, credit, lora_id = await begin(db, user, wallet, lease=timedelta(seconds=90))
    training = NewTraining(
        lora_id=lora_id,
        request_id=request_id or f"req-{lora_id[:8]}",
        wallet=wallet,
        trigger_word="mystyle",
        steps=1000,
        image_urls=("https://images.are.na/a.jpg",),
        discord_user_id=user,
        channel_id=7,
        progress_message_id=None,
        credit_id=credit.id,
        created_at=iso(now()),
    )
    await submissions.accept(db, order.id, owner=OWNER, credit_id=credit.id, training=training)
    return order, credit, lora_id


async def finish(db: Database, lora_id: str, status: str) -> None:
    """The watcher's end of a training (a failed one gives its credit back)."""
    assert await trainings.finish(
        db,
        lora_id,
        status=status,
        weights_url="https://v3.fal.media/files/w.safetensors" if status == "completed" else None,
        error=None if status == "completed" else "fal.ai reported an error",
        now=iso(now()),
    )


async def told(db: Database, lora_id: str) -> None:
    await training_news.record_told(db, lora_id, message_id=555, now=iso(now()))


async def credit_status(db: Database, credit_id: str) -> tuple[str, str | None]:
    credit = await credits.get(db, credit_id)
    assert credit is not None
    return credit.status, credit.training_id
