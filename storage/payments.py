"""`payment_quotes` and `payments`: what a training costs in ETH, and what was paid.

A payment is claimed with one INSERT that does nothing on a repeated (tx_hash, payer),
in the same transaction as the credit it buys, so however many tasks or processes claim
one transaction at once, SQLite lets exactly one through and no credit exists without
its payment.

A quote may be paid in parts (a top-up after an underpayment): each transaction is
claimed on its own, as above; a part that does not yet reach the quote is recorded
with no credit (`credit_id` NULL: "open"), and the claim that brings the quote's open
parts from its wallet to the quoted wei writes one credit and marks every open part as
spent on it, in the same transaction. A part is never counted twice, and an open part
whose quote expired stays visible to operators (`storage.audit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from storage import credits
from storage.connection import Connection, Row
from storage.credits import Credit
from storage.db import Database
from storage.timefmt import iso, parse_time


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    discord_user_id: int
    wallet: str  # EIP-55, as linked when the quote was made
    usd: Decimal
    wei: int
    eth_usd: Decimal
    created_at: datetime
    expires_at: datetime
    created_block: int  # the latest block when the quote was made


@dataclass(frozen=True, slots=True)
class NewPayment:
    id: str
    tx_hash: str  # 0x + 64 lowercase hex
    payer: str  # lowercase address whose value reached the treasury
    quote_id: str
    discord_user_id: int
    wallet: str
    value_wei: int
    kind: str  # "transfer" (a plain transaction) or "internal" (a smart wallet's call)
    chain_id: int
    block_number: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: str
    tx_hash: str
    payer: str
    quote_id: str
    discord_user_id: int
    value_wei: int
    verified_at: str
    credit_id: str | None = None  # None: an open part of its quote (see the module doc)


async def insert_quote(db: Database, quote: Quote) -> None:
    await db.execute(
        "INSERT INTO payment_quotes (id, discord_user_id, wallet_address, usd, eth_usd, wei, "
        "created_at, expires_at, created_block) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            quote.id,
            str(quote.discord_user_id),
            quote.wallet,
            str(quote.usd),
            str(quote.eth_usd),
            str(quote.wei),
            iso(quote.created_at),
            iso(quote.expires_at),
            quote.created_block,
        ),
    )


async def get_quote(db: Database, quote_id: str) -> Quote | None:
    row = await db.fetchone(
        "SELECT id, discord_user_id, wallet_address, usd, eth_usd, wei, created_at, expires_at, "
        "created_block FROM payment_quotes WHERE id = ?",
        (quote_id,),
    )
    if row is None:
        return None
    return Quote(
        id=row["id"],
        discord_user_id=int(row["discord_user_id"]),
        wallet=row["wallet_address"],
        usd=Decimal(row["usd"]),
        wei=int(row["wei"]),
        eth_usd=Decimal(row["eth_usd"]),
        created_at=parse_time(row["created_at"]),
        expires_at=parse_time(row["expires_at"]),
        created_block=int(row["created_block"]),
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A payment just recorded: `credit` is None while the quote's open parts (this one
    included) add up to `total_wei`, less than the quote."""

    total_wei: int
    credit: Credit | None


# Parts of a quote's payment from one payer not yet spent on a credit.
_OPEN_PARTS = (
    "FROM payments p WHERE p.quote_id = ? AND p.payer = ? AND p.credit_id IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM training_credits c WHERE c.payment_id = p.id)"
)


def in_db_claim_toward(
    conn: Connection, payment: NewPayment, credit: Credit, needed_wei: int, now: str
) -> Claimed | None:
    """Runs inside `db.transaction`: the payment row, then, if the quote's open parts
    reach `needed_wei`, `credit` and every part marked as spent on it. None (nothing
    written) when this (tx_hash, payer) was claimed before."""
    row = conn.fetchone(
        "INSERT INTO payments (id, tx_hash, payer, quote_id, discord_user_id, wallet_address, "
        "value_wei, kind, chain_id, block_number, block_hash, verified_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tx_hash, payer) DO NOTHING RETURNING id",
        (
            payment.id,
            payment.tx_hash,
            payment.payer,
            payment.quote_id,
            str(payment.discord_user_id),
            payment.wallet,
            str(payment.value_wei),
            payment.kind,
            payment.chain_id,
            payment.block_number,
            payment.block_hash,
            now,
        ),
    )
    if row is None:
        return None
    parts = conn.fetchall(
        f"SELECT p.value_wei {_OPEN_PARTS}",
        (payment.quote_id, payment.payer),
    )
    total = sum(int(part["value_wei"]) for part in parts)
    if total < needed_wei:
        return Claimed(total, None)
    # The parts first: once the credit names this payment, it no longer counts as open.
    conn.execute(
        f"UPDATE payments SET credit_id = ? WHERE id IN (SELECT p.id {_OPEN_PARTS})",  # noqa: S608
        (credit.id, payment.quote_id, payment.payer),
    )
    credits.in_db_insert(conn, credit)
    return Claimed(total, credit)


async def claim_toward(
    db: Database, payment: NewPayment, credit: Credit, *, needed_wei: int, now: str
) -> Claimed | None:
    """Record a verified payment (or part of one) atomically, with the credit it
    completes. None when this (tx_hash, payer) was already claimed (nothing written)."""
    return await db.transaction(in_db_claim_toward, payment, credit, needed_wei, now)


async def claim(db: Database, payment: NewPayment, credit: Credit, *, now: str) -> bool:
    """Record a verified payment that pays a whole quote, and the credit it buys,
    atomically. False when this (tx_hash, payer) was already claimed (nothing written)."""
    claimed = await claim_toward(db, payment, credit, needed_wei=payment.value_wei, now=now)
    return claimed is not None


async def open_parts(db: Database, quote_id: str, payer: str) -> int:
    """What the quote's open parts from `payer` add up to (0: none)."""
    rows = await db.fetchall(
        f"SELECT p.value_wei {_OPEN_PARTS}",
        (quote_id, payer),
    )
    return sum(int(r["value_wei"]) for r in rows)


def _payment(row: Row) -> PaymentRow:
    return PaymentRow(
        id=row["id"],
        tx_hash=row["tx_hash"],
        payer=row["payer"],
        quote_id=row["quote_id"],
        discord_user_id=int(row["discord_user_id"]),
        value_wei=int(row["value_wei"]),
        verified_at=row["verified_at"],
        credit_id=row["credit_id"],
    )


@dataclass(frozen=True, slots=True)
class PaymentListing:
    """A verified payment and what became of it, for operators."""

    id: str
    tx_hash: str
    payer: str
    wallet: str
    discord_user_id: int
    value_wei: int
    verified_at: str
    credit_id: str | None
    credit_status: str | None
    training_id: str | None


async def list_recent(
    db: Database,
    *,
    wallet: str | None = None,
    discord_user_id: int | None = None,
    limit: int = 50,
) -> list[PaymentListing]:
    """Verified payments newest first (`lora-bot admin payments`), with their credit.
    `wallet` matches the payer or the linked wallet, case-insensitively."""
    user = None if discord_user_id is None else str(discord_user_id)
    rows = await db.fetchall(
        "SELECT p.id, p.tx_hash, p.payer, p.wallet_address, p.discord_user_id, p.value_wei, "
        "p.verified_at, c.id AS credit_id, c.status AS credit_status, c.training_id "
        "FROM payments p LEFT JOIN training_credits c ON c.payment_id = p.id "
        "WHERE (? IS NULL OR p.payer = ? COLLATE NOCASE OR p.wallet_address = ? COLLATE NOCASE) "
        "AND (? IS NULL OR p.discord_user_id = ?) "
        "ORDER BY p.verified_at DESC, p.id DESC LIMIT ?",
        (wallet, wallet, wallet, user, user, limit),
    )
    return [
        PaymentListing(
            id=r["id"],
            tx_hash=r["tx_hash"],
            payer=r["payer"],
            wallet=r["wallet_address"],
            discord_user_id=int(r["discord_user_id"]),
            value_wei=int(r["value_wei"]),
            verified_at=r["verified_at"],
            credit_id=r["credit_id"],
            credit_status=r["credit_status"],
            training_id=r["training_id"],
        )
        for r in rows
    ]


async def find_claims(db: Database, tx_hash: str) -> list[PaymentRow]:
    """Every claim of one transaction (more than one only for an ERC-4337 bundle)."""
    rows = await db.fetchall(
        "SELECT p.id, p.tx_hash, p.payer, p.quote_id, p.discord_user_id, p.value_wei, "
        "p.verified_at, COALESCE(p.credit_id, "
        "(SELECT c.id FROM training_credits c WHERE c.payment_id = p.id)) AS credit_id "
        "FROM payments p WHERE p.tx_hash = ? ORDER BY p.verified_at",
        (tx_hash,),
    )
    return [_payment(r) for r in rows]
