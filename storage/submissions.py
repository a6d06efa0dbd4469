"""A paid /train submission as a durable state machine, on its `training_orders` row.

    draft --begin--> submitting/reserved --> uploaded --> submitting --accept--> submitted/accepted --> announced
      ^                    |                    |              |
      +---- roll_back -----+--------------------+--------------+   (the credit is usable again)

Every arrow is one statement or one transaction, and it names the process that holds
the order (`owner`, `lease_expires_at`): a step only moves forward for its owner, so a
process whose lease ran out (it hung, or another process rolled the order back) cannot
write over what happened since. `begin` reserves the credit and moves the order in one
transaction; `accept` spends the credit and writes the web app's `pending` row, the
bot's job row and the fal request id in one transaction, right after fal answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.connection import Connection
from storage.credits import (
    Credit,
    CreditGone,
    in_db_consume,
    in_db_get,
    in_db_open_admin_credit,
    in_db_reserve,
    in_db_reserve_oldest,
    in_db_restore,
)
from storage.db import Database
from storage.trainings import NewTraining, in_db_insert_pending, in_db_record_submitted

RESERVED, UPLOADED, SUBMITTING, ACCEPTED, ANNOUNCED = (
    "reserved",
    "uploaded",
    "submitting",
    "accepted",
    "announced",
)
STEPS = (RESERVED, UPLOADED, SUBMITTING, ACCEPTED, ANNOUNCED)


class OrderBusy(Exception):
    """The order is not a draft any more (another click, or another process, took it)."""


@dataclass(frozen=True, slots=True)
class StalledOrder:
    """A submission whose process stopped (its lease ran out) before fal accepted it."""

    order_id: str
    discord_user_id: int
    step: str | None
    credit_id: str | None
    lora_id: str | None
    submit_started_at: str | None


def in_db_begin(
    conn: Connection,
    order_id: str,
    user_id: int,
    lora_id: str,
    admin_credit: Credit | None,
    channel_id: int | None,
    owner: str,
    now: str,
    until: str,
) -> Credit | None:
    """Runs in a transaction: reserve the user's oldest credit (an admin's own credit if
    they have none) and move the order to `submitting`/`reserved`. None: no credit, and
    nothing changed. Raises `OrderBusy` (rolling back the reservation)."""
    credit = in_db_reserve_oldest(conn, user_id, lora_id, now)
    if credit is None and admin_credit is not None:
        opened = in_db_open_admin_credit(conn, admin_credit)
        credit = in_db_reserve(conn, opened.id, lora_id, user_id, now)
    if credit is None:
        return None
    changed = conn.execute(
        "UPDATE training_orders SET status = 'submitting', step = ?, credit_id = ?, "
        "lora_training_id = ?, channel_id = ?, owner = ?, lease_expires_at = ?, "
        "zip_url = NULL, image_urls = NULL, request_id = NULL, submit_started_at = NULL, "
        "updated_at = ? WHERE id = ? AND status = 'draft'",
        (RESERVED, credit.id, lora_id, _text(channel_id), owner, until, now, order_id),
    )
    if int(changed.rowcount) != 1:
        raise OrderBusy(order_id)
    return credit


async def begin(
    db: Database,
    order_id: str,
    *,
    user_id: int,
    lora_id: str,
    admin_credit: Credit | None,
    channel_id: int | None,
    owner: str,
    now: str,
    until: str,
) -> Credit | None:
    return await db.transaction(
        in_db_begin, order_id, user_id, lora_id, admin_credit, channel_id, owner, now, until
    )


async def record_uploaded(
    db: Database,
    order_id: str,
    *,
    owner: str,
    zip_url: str,
    image_urls: tuple[str, ...],
    now: str,
    until: str,
) -> bool:
    """The zip is on fal storage. False: this process no longer holds the order."""
    changed = await db.execute(
        "UPDATE training_orders SET step = ?, zip_url = ?, image_urls = ?, "
        "lease_expires_at = ?, updated_at = ? "
        "WHERE id = ? AND owner = ? AND status = 'submitting' AND step = ?",
        (UPLOADED, zip_url, json.dumps(list(image_urls)), until, now, order_id, owner, RESERVED),
    )
    return changed == 1


async def record_submitting(
    db: Database, order_id: str, *, owner: str, now: str, until: str
) -> bool:
    """Recorded before fal is asked: from here on fal may hold the job."""
    changed = await db.execute(
        "UPDATE training_orders SET step = ?, submit_started_at = ?, lease_expires_at = ?, "
        "updated_at = ? WHERE id = ? AND owner = ? AND status = 'submitting' AND step = ?",
        (SUBMITTING, now, until, now, order_id, owner, UPLOADED),
    )
    return changed == 1


def in_db_accept(
    conn: Connection, order_id: str, owner: str, credit_id: str, training: NewTraining
) -> None:
    """Runs in a transaction: fal accepted the job. Raises `CreditGone` or `OrderBusy`."""
    changed = conn.execute(
        "UPDATE training_orders SET status = 'submitted', step = ?, request_id = ?, "
        "updated_at = ? WHERE id = ? AND owner = ? AND status = 'submitting'",
        (ACCEPTED, training.request_id, training.created_at, order_id, owner),
    )
    if int(changed.rowcount) != 1:
        raise OrderBusy(order_id)
    in_db_record_submitted(conn, credit_id, training)


async def accept(
    db: Database, order_id: str, *, owner: str, credit_id: str, training: NewTraining
) -> None:
    """The credit spent, the `pending` row, the job row and the request id: one
    transaction. Raises `CreditGone` (the credit was taken meanwhile) or `OrderBusy`."""
    await db.transaction(in_db_accept, order_id, owner, credit_id, training)


def in_db_announced(
    conn: Connection, order_id: str, lora_id: str, message_id: int, now: str
) -> None:
    conn.execute(
        "UPDATE training_jobs SET progress_message_id = ?, updated_at = ? "
        "WHERE lora_training_id = ?",
        (str(message_id), now, lora_id),
    )
    conn.execute(
        "UPDATE training_orders SET step = ?, owner = NULL, lease_expires_at = NULL, "
        "updated_at = ? WHERE id = ? AND step = ?",
        (ANNOUNCED, now, order_id, ACCEPTED),
    )


async def record_announced(
    db: Database, order_id: str, *, lora_id: str, message_id: int, now: str
) -> None:
    """The progress message is posted: the submission is done."""
    await db.transaction(in_db_announced, order_id, lora_id, message_id, now)


async def release(db: Database, order_id: str, *, owner: str) -> None:
    """Done with an accepted order (its progress message could not be posted: the
    watcher posts one later)."""
    await db.execute(
        "UPDATE training_orders SET owner = NULL, lease_expires_at = NULL "
        "WHERE id = ? AND owner = ? AND status = 'submitted'",
        (order_id, owner),
    )


async def renew(db: Database, order_id: str, *, owner: str, until: str) -> bool:
    changed = await db.execute(
        "UPDATE training_orders SET lease_expires_at = ? "
        "WHERE id = ? AND owner = ? AND status = 'submitting'",
        (until, order_id, owner),
    )
    return changed == 1


def in_db_roll_back(conn: Connection, order_id: str, owner: str | None, now: str) -> bool:
    """Runs in a transaction: fal never accepted the job. The credit is usable again and
    the order a draft again (its Start button works). `owner` None: any stalled holder."""
    row = conn.fetchone(
        "SELECT credit_id, lora_training_id FROM training_orders "
        "WHERE id = ? AND status = 'submitting' AND (? IS NULL OR owner = ?)",
        (order_id, owner, owner),
    )
    if row is None:
        return False
    if row["credit_id"]:
        in_db_restore(conn, row["credit_id"], row["lora_training_id"])
    # `credit_id`, `zip_url`, `image_urls` and `submit_started_at` stay: they are what
    # `accept_late` needs if fal accepted the job after all (`begin` overwrites them).
    conn.execute(
        "UPDATE training_orders SET status = 'draft', step = NULL, "
        "lora_training_id = NULL, owner = NULL, lease_expires_at = NULL, updated_at = ? "
        "WHERE id = ?",
        (now, order_id),
    )
    return True


async def roll_back(db: Database, order_id: str, *, owner: str | None, now: str) -> bool:
    return await db.transaction(in_db_roll_back, order_id, owner, now)


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def _stalled(row: dict[str, Any]) -> StalledOrder:
    return StalledOrder(
        order_id=row["id"],
        discord_user_id=int(row["discord_user_id"]),
        step=row["step"],
        credit_id=row["credit_id"],
        lora_id=row["lora_training_id"],
        submit_started_at=row["submit_started_at"],
    )


def in_db_claim_stalled(
    conn: Connection, owner: str, now: str, until: str, limit: int
) -> list[dict[str, Any]]:
    with conn.transaction():
        rows = conn.fetchall(
            "SELECT id, discord_user_id, step, credit_id, lora_training_id, submit_started_at "
            "FROM training_orders WHERE status = 'submitting' "
            "AND (lease_expires_at IS NULL OR lease_expires_at < ?) ORDER BY updated_at LIMIT ?",
            (now, limit),
        )
        for row in rows:
            conn.execute(
                "UPDATE training_orders SET owner = ?, lease_expires_at = ? WHERE id = ?",
                (owner, until, row["id"]),
            )
    return rows


async def claim_stalled(
    db: Database, *, owner: str, now: str, until: str, limit: int = 50
) -> list[StalledOrder]:
    """Submissions whose process stopped, whatever their age, now held by `owner`."""
    return [_stalled(r) for r in await db.run(in_db_claim_stalled, owner, now, until, limit)]


@dataclass(frozen=True, slots=True)
class WebhookOrder:
    """What a fal webhook naming this order is checked against."""

    order_id: str
    status: str
    step: str | None
    request_id: str | None  # the fal request the bot recorded for it (None: none yet)


async def webhook_order(db: Database, order_id: str) -> WebhookOrder | None:
    row = await db.fetchone(
        "SELECT id, status, step, request_id FROM training_orders WHERE id = ?", (order_id,)
    )
    if row is None:
        return None
    return WebhookOrder(row["id"], row["status"], row["step"], row["request_id"])


class NotRecoverable(Exception):
    """A webhook cannot record a training for this order (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class LateAccept:
    lora_id: str
    credit_id: str | None  # the credit that paid; None: recorded without one (see note)
    note: str | None  # why (written to training_jobs.audit_note); None: already recorded
    recorded: bool  # False: this request was recorded already (a repeated delivery)


def in_db_accept_late(
    conn: Connection, order_id: str, request_id: str, new_lora_id: str, now: str
) -> LateAccept:
    """Runs in a transaction: fal accepted this order's job, but the bot never recorded
    it (its process died before `accept`). Writes the `pending` row and the job row from
    the order's recorded fields, spending the order's credit if it is still usable, or
    with no credit and the reason in `audit_note`. Raises `NotRecoverable`, or
    `OrderBusy` while a live process still holds the order (it will record it itself)."""
    row = conn.fetchone("SELECT * FROM training_orders WHERE id = ?", (order_id,))
    if row is None:
        raise NotRecoverable("no such order")
    if row["request_id"] == request_id:  # recorded meanwhile (a repeated delivery)
        return LateAccept(row["lora_training_id"], row["credit_id"], None, recorded=False)
    if row["request_id"]:
        raise NotRecoverable("the order has another request id recorded")
    if conn.fetchone("SELECT 1 FROM training_jobs WHERE request_id = ?", (request_id,)):
        raise NotRecoverable("the request id belongs to another training")
    if row["status"] == "submitting":
        if row["lease_expires_at"] is not None and row["lease_expires_at"] >= now:
            raise OrderBusy(order_id)
    elif row["status"] != "draft":
        raise NotRecoverable(f"the order is {row['status']}")
    if not row["zip_url"] or not row["submit_started_at"] or not row["image_urls"]:
        # fal is asked only after `record_submitting`: no job can exist before that.
        raise NotRecoverable("the order never reached the submitting step")
    lora_id = row["lora_training_id"] or new_lora_id
    credit_id: str | None = row["credit_id"]
    if credit_id and in_db_consume(conn, credit_id, lora_id, now):
        note = f"recorded from a signed fal webhook (lost submission); paid by credit {credit_id}"
    else:
        spent = in_db_get(conn, credit_id) if credit_id else None
        why = (
            f"the order's credit {credit_id} was {spent.status}"
            + (f" by training {spent.training_id}" if spent and spent.training_id else "")
            if spent is not None
            else "the order had no credit recorded"
        )
        note = f"recorded from a signed fal webhook (lost submission); no credit: {why}"
        credit_id = None
    in_db_insert_pending(
        conn,
        NewTraining(
            lora_id=lora_id,
            request_id=request_id,
            wallet=row["wallet_address"],
            trigger_word=row["trigger_word"],
            steps=int(row["steps"]),
            image_urls=tuple(json.loads(row["image_urls"])),
            discord_user_id=int(row["discord_user_id"]),
            channel_id=int(row["channel_id"]) if row["channel_id"] else None,
            progress_message_id=None,
            credit_id=credit_id,
            created_at=now,
        ),
    )
    conn.execute(
        "UPDATE training_jobs SET audit_note = ? WHERE lora_training_id = ?", (note, lora_id)
    )
    conn.execute(
        "UPDATE training_orders SET status = 'submitted', step = ?, request_id = ?, "
        "credit_id = ?, lora_training_id = ?, owner = NULL, lease_expires_at = NULL, "
        "updated_at = ? WHERE id = ?",
        (ACCEPTED, request_id, credit_id, lora_id, now, order_id),
    )
    return LateAccept(lora_id, credit_id, note, recorded=True)


async def accept_late(
    db: Database, order_id: str, request_id: str, now: str, *, new_lora_id: str
) -> LateAccept:
    """A signed fal webhook names an order with no request id recorded: record its
    training, one transaction (see `in_db_accept_late`). Raises `NotRecoverable` or
    `OrderBusy`."""
    return await db.transaction(in_db_accept_late, order_id, request_id, new_lora_id, now)


__all__ = ["CreditGone", "LateAccept", "NotRecoverable", "OrderBusy", "StalledOrder"]
