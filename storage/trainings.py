"""Trainings: the web app's `lora_trainings` rows, the bot's `training_jobs` beside them,
and the leases that let exactly one process watch each pending training.

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage import credits
from storage.connection import Connection, Row
from storage.credits import CreditGone
from storage.db import Database


@dataclass(frozen=True, slots=True)
class NewTraining:
    lora_id: str
    request_id: str
    wallet: str
    trigger_word: str
    steps: int
    image_urls: tuple[str, ...]
    discord_user_id: int
    channel_id: int | None
    progress_message_id: int | None
    credit_id: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class WatchedTraining:
    lora_id: str
    request_id: str
    trigger_word: str
    wallet: str
    discord_user_id: int | None  # None: started by the web app, nobody to tell here
    channel_id: int | None
    progress_message_id: int | None
    credit_id: str | None
    state: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """A training the bot submitted: its fal request, whose it is, where it stands."""

    lora_id: str
    request_id: str
    discord_user_id: int | None
    status: str  # lora_trainings.status: "pending", "completed" or "failed"
    cancel_requested_at: str | None = None


def in_db_insert_pending(conn: Connection, training: NewTraining) -> None:
    """The seed's `pending` row (web-app format) and the bot's job row. Runs inside the
    transaction that also consumes the credit that paid for it (`record_submitted`)."""
    conn.execute(
        "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
        "image_urls, lora_weights_url, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, 'pending', ?)",
        (
            training.lora_id,
            training.request_id,
            training.wallet,
            training.trigger_word,
            training.steps,
            json.dumps(list(training.image_urls)),
            training.created_at,
        ),
    )
    conn.execute(
        "INSERT INTO training_jobs (lora_training_id, request_id, discord_user_id, channel_id, "
        "progress_message_id, credit_id, state, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
        (
            training.lora_id,
            training.request_id,
            str(training.discord_user_id),
            str(training.channel_id) if training.channel_id else None,
            str(training.progress_message_id) if training.progress_message_id else None,
            training.credit_id,
            training.created_at,
            training.created_at,
        ),
    )


def in_db_record_submitted(conn: Connection, credit_id: str, training: NewTraining) -> None:
    """Runs inside `db.transaction`: the credit is spent, the `pending` row and the job
    are written. `CreditGone` (rolling everything back) when the credit is no longer
    reserved for this training nor available."""
    if not credits.in_db_consume(conn, credit_id, training.lora_id):
        raise CreditGone(f"credit {credit_id} is not reserved for training {training.lora_id}")
    in_db_insert_pending(conn, training)


async def record_submitted(db: Database, credit_id: str, training: NewTraining) -> None:
    """fal accepted the job: spend the credit and write the `pending` lora_trainings row
    and its training_jobs row, all or nothing. Raises `CreditGone`."""
    await db.transaction(in_db_record_submitted, credit_id, training)


def _opt_int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def watched_of(r: Row, *, state: str = "state") -> WatchedTraining:
    """A `lora_trainings` row joined with its `training_jobs` row (t.id, t.request_id,
    t.trigger_word, t.wallet_address, t.created_at, j.discord_user_id, j.channel_id,
    j.progress_message_id, j.credit_id and the column `state` names)."""
    return WatchedTraining(
        lora_id=r["id"],
        request_id=r["request_id"],
        trigger_word=r["trigger_word"],
        wallet=r["wallet_address"],
        discord_user_id=_opt_int(r["discord_user_id"]),
        channel_id=_opt_int(r["channel_id"]),
        progress_message_id=_opt_int(r["progress_message_id"]),
        credit_id=r["credit_id"],
        state=r[state],
        created_at=r["created_at"],
    )


async def job_of(db: Database, lora_id: str) -> TrainingJob | None:
    """The bot's job for a training, with the training's status; None when the bot did
    not submit it (a web-app training, or no such id)."""
    row = await db.fetchone(
        "SELECT j.lora_training_id, j.request_id, j.discord_user_id, t.status, "
        "j.cancel_requested_at "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.lora_training_id = ?",
        (lora_id,),
    )
    if row is None:
        return None
    return TrainingJob(
        lora_id=row["lora_training_id"],
        request_id=row["request_id"],
        discord_user_id=_opt_int(row["discord_user_id"]),
        status=row["status"],
        cancel_requested_at=row["cancel_requested_at"],
    )


async def by_request(db: Database, request_id: str) -> tuple[WatchedTraining, str] | None:
    """The bot's training for a fal request id, with its lora_trainings status
    ("pending", "completed" or "failed"); None when the bot has no job for it."""
    r = await db.fetchone(
        "SELECT t.id, t.request_id, t.trigger_word, t.wallet_address, t.created_at, t.status, "
        "j.discord_user_id, j.channel_id, j.progress_message_id, j.credit_id, j.state "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.request_id = ?",
        (request_id,),
    )
    if r is None:
        return None
    training = watched_of(r)
    return training, r["status"]


def in_db_claim(
    conn: Connection, owner: str, now: str, until: str, limit: int
) -> list[dict[str, Any]]:
    with conn.transaction():
        rows = conn.fetchall(
            "SELECT t.id, t.request_id, t.trigger_word, t.wallet_address, t.created_at, "
            "j.discord_user_id, j.channel_id, j.progress_message_id, j.credit_id, j.state "
            "FROM lora_trainings t "
            "LEFT JOIN training_leases l ON l.lora_training_id = t.id "
            "LEFT JOIN training_jobs j ON j.lora_training_id = t.id "
            "WHERE t.status = 'pending' AND (l.owner IS NULL OR l.owner = ? OR l.expires_at < ?) "
            "AND (l.next_check_at IS NULL OR l.next_check_at < ?) "
            "ORDER BY t.created_at LIMIT ?",
            (owner, now, now, limit),
        )
        for row in rows:
            conn.execute(
                "INSERT INTO training_leases (lora_training_id, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (lora_training_id) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                (row["id"], owner, until),
            )
    return rows


async def claim(
    db: Database, *, owner: str, now: str, until: str, limit: int = 50
) -> list[WatchedTraining]:
    rows = await db.run(in_db_claim, owner, now, until, limit)
    return [watched_of(r) for r in rows]


async def record_progress(
    db: Database,
    lora_id: str,
    *,
    state: str,
    queue_position: int | None,
    steps_done: int | None,
    steps_total: int | None,
    now: str,
) -> None:
    await db.execute(
        "UPDATE training_jobs SET state = ?, queue_position = ?, steps_done = ?, steps_total = ?, "
        "updated_at = ? WHERE lora_training_id = ?",
        (state, queue_position, steps_done, steps_total, now, lora_id),
    )


def in_db_finish(
    conn: Connection,
    lora_id: str,
    status: str,
    weights_url: str | None,
    error: str | None,
    now: str,
) -> bool:
    """Complete or fail a pending training once (whoever gets here first). A failed
    training's credit is given back in the same transaction: no crash can fall between
    "failed" and "usable again"."""
    with conn.transaction():
        row = conn.fetchone(
            "UPDATE lora_trainings SET status = ?, lora_weights_url = COALESCE(?, lora_weights_url) "
            "WHERE id = ? AND status = 'pending' RETURNING id",
            (status, weights_url, lora_id),
        )
        if row is None:
            return False
        conn.execute(
            "UPDATE training_jobs SET state = ?, error = ?, updated_at = ? WHERE lora_training_id = ?",
            (status, error, now, lora_id),
        )
        conn.execute("DELETE FROM training_leases WHERE lora_training_id = ?", (lora_id,))
        if status == "failed":
            credits.in_db_restore_for_training(conn, lora_id)
    return True


async def finish(
    db: Database, lora_id: str, *, status: str, weights_url: str | None, error: str | None, now: str
) -> bool:
    assert status in ("completed", "failed")
    return await db.run(in_db_finish, lora_id, status, weights_url, error, now)


async def request_cancel(db: Database, lora_id: str, *, now: str) -> None:
    await db.execute(
        "UPDATE training_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, ?) "
        "WHERE lora_training_id = ?",
        (now, lora_id),
    )


async def mark_unknown(db: Database, lora_id: str, *, now: str, next_check_at: str) -> bool:
    """fal does not know this training: look again at `next_check_at`. True the first
    time (so it is logged once)."""
    row = await db.fetchone(
        "UPDATE training_leases SET unknown_since = COALESCE(unknown_since, ?), "
        "next_check_at = ? WHERE lora_training_id = ? RETURNING unknown_since",
        (now, next_check_at, lora_id),
    )
    return row is not None and row["unknown_since"] == now


async def release_leases(db: Database, owner: str) -> int:
    """A process shutting down hands its trainings over at once (not after expiry)."""
    return await db.execute("DELETE FROM training_leases WHERE owner = ?", (owner,))
