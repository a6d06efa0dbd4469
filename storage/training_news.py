"""Telling a Discord user about their training, once: the claim while one process
sends, the message id once Discord took it, the progress message in use, and the
finished trainings nobody was told about yet (see bot/services/training/watcher.py).

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database
from storage.trainings import WatchedTraining, watched_of


async def claim_telling(db: Database, lora_id: str, *, now: str, until: str) -> bool:
    """One process at a time tells the user: a short claim, not a record that they were
    told (that is written only once Discord took the message, by `record_told`). A claim
    left by a process that died runs out and the next one tries again."""
    changed = await db.execute(
        "UPDATE training_jobs SET telling_until = ? WHERE lora_training_id = ? "
        "AND notified_at IS NULL AND (telling_until IS NULL OR telling_until < ?)",
        (until, lora_id, now),
    )
    return changed == 1


async def record_told(db: Database, lora_id: str, *, message_id: int | None, now: str) -> None:
    await db.execute(
        "UPDATE training_jobs SET notified_at = ?, notice_message_id = ?, telling_until = NULL "
        "WHERE lora_training_id = ?",
        (now, None if message_id is None else str(message_id), lora_id),
    )


async def release_telling(db: Database, lora_id: str) -> None:
    await db.execute(
        "UPDATE training_jobs SET telling_until = NULL WHERE lora_training_id = ?", (lora_id,)
    )


async def set_progress_message(db: Database, lora_id: str, message_id: int, *, now: str) -> None:
    """The progress message now shown for this training (a first one, or a fresh one
    after Discord stopped accepting edits to the old)."""
    await db.execute(
        "UPDATE training_jobs SET progress_message_id = ?, updated_at = ? "
        "WHERE lora_training_id = ?",
        (str(message_id), now, lora_id),
    )


@dataclass(frozen=True, slots=True)
class Finished:
    training: WatchedTraining
    status: str
    weights_url: str | None
    error: str | None


async def unnotified_finished(db: Database) -> list[Finished]:
    """Finished trainings whose user was never told (the process stopped in between)."""
    rows = await db.fetchall(
        "SELECT t.id, t.request_id, t.trigger_word, t.wallet_address, t.created_at, t.status, "
        "t.lora_weights_url, j.error, "
        "j.discord_user_id, j.channel_id, j.progress_message_id, j.credit_id "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.notified_at IS NULL AND t.status IN ('completed', 'failed')",
    )
    return [
        Finished(
            watched_of(r, state="status"),
            r["status"],
            r["lora_weights_url"],
            r["error"],
        )
        for r in rows
    ]


async def clear_telling_claim(db: Database, lora_id: str) -> bool:
    """A finished training whose user was never told: drop any claim a process left, so
    the next watcher poll of a running bot tells them. False: they were told already."""
    changed = await db.execute(
        "UPDATE training_jobs SET telling_until = NULL "
        "WHERE lora_training_id = ? AND notified_at IS NULL",
        (lora_id,),
    )
    return changed == 1
