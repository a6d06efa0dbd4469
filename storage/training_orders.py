"""`training_orders`: a /train request from preview to submission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.db import Database

DRAFT, SUBMITTING, SUBMITTED, CANCELLED = "draft", "submitting", "submitted", "cancelled"
_COLUMNS = (
    "id, discord_user_id, wallet_address, channel_slug, channel_title, trigger_word, steps, "
    "image_count, quote_id, tx_hash, status, lora_training_id, created_at, channel_id, "
    "discord_user_name, guild_name"
)


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    discord_user_id: int
    wallet: str
    channel_slug: str
    channel_title: str
    trigger_word: str
    steps: int
    image_count: int
    quote_id: str | None
    tx_hash: str | None
    status: str
    lora_training_id: str | None
    created_at: str
    channel_id: int | None = None  # where its progress card goes (set at /train)
    # Who asked, and in which Discord server (None: a direct message), as the payment
    # page names them. Empty / None on orders made before migration 0040.
    discord_user_name: str = ""
    guild_name: str | None = None


def _order(row: dict[str, Any]) -> Order:
    return Order(
        id=row["id"],
        discord_user_id=int(row["discord_user_id"]),
        wallet=row["wallet_address"],
        channel_slug=row["channel_slug"],
        channel_title=row["channel_title"],
        trigger_word=row["trigger_word"],
        steps=int(row["steps"]),
        image_count=int(row["image_count"]),
        quote_id=row["quote_id"],
        tx_hash=row["tx_hash"],
        status=row["status"],
        lora_training_id=row["lora_training_id"],
        created_at=row["created_at"],
        channel_id=int(row["channel_id"]) if row["channel_id"] else None,
        discord_user_name=row["discord_user_name"] or "",
        guild_name=row["guild_name"],
    )


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """One of a user's trainings as /trainings lists it."""

    lora_id: str
    trigger_word: str
    status: str  # lora_trainings.status: "pending", "completed" or "failed"
    state: str | None  # training_jobs.state: the last state fal reported
    steps_done: int | None
    steps_total: int | None
    queue_position: int | None
    error: str | None
    created_at: str
    channel_id: int | None = None  # where its progress card is
    progress_message_id: int | None = None


def _opt_int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _summary(row: dict[str, Any]) -> TrainingSummary:
    return TrainingSummary(
        lora_id=row["lora_training_id"],
        trigger_word=row["trigger_word"],
        status=row["status"],
        state=row["state"],
        steps_done=_opt_int(row["steps_done"]),
        steps_total=_opt_int(row["steps_total"]),
        queue_position=_opt_int(row["queue_position"]),
        error=row["error"],
        created_at=row["created_at"],
        channel_id=_opt_int(row["channel_id"]),
        progress_message_id=_opt_int(row["progress_message_id"]),
    )


async def create(db: Database, order: Order) -> bool:
    """False (nothing written) when an order with this id exists already: an order
    with a chosen id (a retry of one training) is made at most once."""
    changed = await db.execute(
        "INSERT INTO training_orders (id, discord_user_id, wallet_address, channel_slug, "
        "channel_title, trigger_word, steps, image_count, quote_id, status, created_at, "
        "updated_at, channel_id, discord_user_name, guild_name) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            order.id,
            str(order.discord_user_id),
            order.wallet,
            order.channel_slug,
            order.channel_title,
            order.trigger_word,
            order.steps,
            order.image_count,
            order.quote_id,
            order.status,
            order.created_at,
            order.created_at,
            None if order.channel_id is None else str(order.channel_id),
            order.discord_user_name,
            order.guild_name,
        ),
    )
    return changed == 1


async def get(db: Database, order_id: str) -> Order | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM training_orders WHERE id = ?",  # noqa: S608 (constant columns)
        (order_id,),
    )
    return None if row is None else _order(row)


async def of_training(db: Database, lora_id: str) -> Order | None:
    """The order that paid for a training (None: not started from /train)."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM training_orders "  # noqa: S608 (constant columns)
        "WHERE lora_training_id = ? ORDER BY created_at LIMIT 1",
        (lora_id,),
    )
    return None if row is None else _order(row)


async def move(db: Database, order_id: str, *, from_status: str, to_status: str, now: str) -> bool:
    """Change state only from the expected one: two clicks cannot both submit."""
    changed = await db.execute(
        "UPDATE training_orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        (to_status, now, order_id, from_status),
    )
    return changed == 1


async def set_quote(db: Database, order_id: str, quote_id: str, *, now: str) -> None:
    await db.execute(
        "UPDATE training_orders SET quote_id = ?, updated_at = ? WHERE id = ?",
        (quote_id, now, order_id),
    )


async def set_submitted(db: Database, order_id: str, lora_id: str, *, now: str) -> None:
    await db.execute(
        "UPDATE training_orders SET status = 'submitted', lora_training_id = ?, updated_at = ? "
        "WHERE id = ?",
        (lora_id, now, order_id),
    )


async def list_for_user(
    db: Database, discord_user_id: int, limit: int = 10
) -> list[TrainingSummary]:
    """The user's trainings, newest first, with their state."""
    rows = await db.fetchall(
        "SELECT j.lora_training_id, t.trigger_word, t.status, j.state, j.steps_done, "
        "j.steps_total, j.queue_position, j.error, t.created_at, j.channel_id, "
        "j.progress_message_id "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.discord_user_id = ? ORDER BY t.created_at DESC LIMIT ?",
        (str(discord_user_id), limit),
    )
    return [_summary(r) for r in rows]


async def set_tx_hash(db: Database, order_id: str, tx_hash: str, *, now: str) -> None:
    await db.execute(
        "UPDATE training_orders SET tx_hash = ?, updated_at = ? WHERE id = ?",
        (tx_hash, now, order_id),
    )
