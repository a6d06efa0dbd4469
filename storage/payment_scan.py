"""`payment_scan` and the open quotes it serves: where the payment scanner is on Base,
and which orders wait for a payment (a draft order whose quote has not expired).

The cursor is moved by compare and set (`advance`): a process that read block N moves
it only if it still says N, so of two processes scanning at once one records the range
and the other sees it lost (its claims were no-ops: the payment claim is UNIQUE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Database
from storage.timefmt import iso, parse_time

BASE = "base"  # the one scan: Base mainnet


@dataclass(frozen=True, slots=True)
class OpenQuote:
    """An order awaiting payment, with the window its payment must be mined in."""

    order_id: str
    discord_user_id: int
    wallet: str  # lowercase: compared with transaction senders
    quote_id: str
    created_block: int  # a payment counts only in a later block
    created_at: datetime
    expires_at: datetime


async def open_quotes(db: Database, *, expiring_after: datetime) -> list[OpenQuote]:
    """Draft orders whose quote expires after `expiring_after`, oldest quote first."""
    rows = await db.fetchall(
        "SELECT o.id, o.discord_user_id, o.wallet_address, q.id AS quote_id, "
        "q.created_block, q.created_at, q.expires_at "
        "FROM training_orders o JOIN payment_quotes q ON q.id = o.quote_id "
        "WHERE o.status = 'draft' AND q.expires_at > ? ORDER BY q.created_block, q.id",
        (iso(expiring_after),),
    )
    return [
        OpenQuote(
            order_id=r["id"],
            discord_user_id=int(r["discord_user_id"]),
            wallet=str(r["wallet_address"]).lower(),
            quote_id=r["quote_id"],
            created_block=int(r["created_block"]),
            created_at=parse_time(r["created_at"]),
            expires_at=parse_time(r["expires_at"]),
        )
        for r in rows
    ]


async def next_block(db: Database, name: str = BASE) -> int | None:
    """The next block to scan; None before the first scan."""
    row = await db.fetchone("SELECT next_block FROM payment_scan WHERE name = ?", (name,))
    return None if row is None else int(row["next_block"])


async def advance(
    db: Database, *, expected: int | None, to: int, now: datetime, name: str = BASE
) -> bool:
    """Move the cursor to `to` if it still is `expected` (None: not set yet). False:
    another process moved it first."""
    if expected is None:
        changed = await db.execute(
            "INSERT INTO payment_scan (name, next_block, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (name, to, iso(now)),
        )
    else:
        changed = await db.execute(
            "UPDATE payment_scan SET next_block = ?, updated_at = ? "
            "WHERE name = ? AND next_block = ?",
            (to, iso(now), name, expected),
        )
    return changed == 1


__all__ = ["BASE", "OpenQuote", "advance", "next_block", "open_quotes"]
