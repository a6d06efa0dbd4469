"""What operators read and repair (`lora-bot admin`): trainings listed with their
jobs, one job's record, and a failed training completed after all.

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import credits
from storage.connection import Connection
from storage.credits import CreditGone
from storage.db import Database
from storage.trainings import WatchedTraining, _opt_int, watched_of


@dataclass(frozen=True, slots=True)
class TrainingListing:
    """A training as operators see it (`lora-bot admin trainings`); the job's fields
    are None for a training the web app started."""

    lora_id: str
    request_id: str
    wallet: str
    trigger_word: str
    status: str  # lora_trainings.status
    created_at: str
    discord_user_id: int | None
    state: str | None
    credit_id: str | None
    error: str | None
    notified_at: str | None


async def list_recent(
    db: Database,
    *,
    wallet: str | None = None,
    discord_user_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[TrainingListing]:
    """Trainings newest first (the web app's too), the wallet compared case-insensitively."""
    user = None if discord_user_id is None else str(discord_user_id)
    rows = await db.fetchall(
        "SELECT t.id, t.request_id, t.wallet_address, t.trigger_word, t.status, t.created_at, "
        "j.discord_user_id, j.state, j.credit_id, j.error, j.notified_at "
        "FROM lora_trainings t LEFT JOIN training_jobs j ON j.lora_training_id = t.id "
        "WHERE (? IS NULL OR t.wallet_address = ? COLLATE NOCASE) "
        "AND (? IS NULL OR j.discord_user_id = ?) AND (? IS NULL OR t.status = ?) "
        "ORDER BY t.created_at DESC, t.id DESC LIMIT ?",
        (wallet, wallet, user, user, status, status, limit),
    )
    return [
        TrainingListing(
            lora_id=r["id"],
            request_id=r["request_id"],
            wallet=r["wallet_address"],
            trigger_word=r["trigger_word"],
            status=r["status"],
            created_at=r["created_at"],
            discord_user_id=_opt_int(r["discord_user_id"]),
            state=r["state"],
            credit_id=r["credit_id"],
            error=r["error"],
            notified_at=r["notified_at"],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One training the bot submitted, as the watcher sees it, with where it ended."""

    training: WatchedTraining
    status: str  # lora_trainings.status
    notified_at: str | None


async def job_record(db: Database, lora_id: str) -> JobRecord | None:
    """The bot's training `lora_id` (None: not one the bot submitted)."""
    r = await db.fetchone(
        "SELECT t.id, t.request_id, t.trigger_word, t.wallet_address, t.created_at, t.status, "
        "j.discord_user_id, j.channel_id, j.progress_message_id, j.credit_id, j.state, "
        "j.notified_at FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.lora_training_id = ?",
        (lora_id,),
    )
    if r is None:
        return None
    training = watched_of(r)
    return JobRecord(training, r["status"], r["notified_at"])


def in_db_complete_failed(
    conn: Connection, lora_id: str, credit_id: str, weights_url: str, now: str
) -> bool:
    """A training recorded as failed that fal actually completed: completed after all,
    its credit (given back when it failed) spent on it again, and the user to be told
    anew, in one transaction. False: it is not failed (any more). Raises `CreditGone`
    (nothing written) when the credit is no longer available to spend."""
    with conn.transaction():
        row = conn.fetchone(
            "UPDATE lora_trainings SET status = 'completed', lora_weights_url = ? "
            "WHERE id = ? AND status = 'failed' RETURNING id",
            (weights_url, lora_id),
        )
        if row is None:
            return False
        if not credits.in_db_consume(conn, credit_id, lora_id, now):
            raise CreditGone(f"credit {credit_id} cannot pay for training {lora_id} again")
        conn.execute(
            "UPDATE training_jobs SET state = 'completed', error = NULL, notified_at = NULL, "
            "telling_until = NULL, notice_message_id = NULL, updated_at = ? "
            "WHERE lora_training_id = ?",
            (now, lora_id),
        )
    return True


async def complete_failed(
    db: Database, lora_id: str, *, credit_id: str, weights_url: str, now: str
) -> bool:
    """See `in_db_complete_failed`. Raises `CreditGone`."""
    return await db.run(in_db_complete_failed, lora_id, credit_id, weights_url, now)
