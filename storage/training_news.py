"""Telling a Discord user about their training, once: the claim while one process
sends, the message id once Discord took it, the progress message in use, and the
finished trainings nobody was told about yet (see bot/services/training/watcher.py).

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What a training's progress card shows besides fal's news: the Are.na channel it
    was trained from, how many images and steps, one image for the thumbnail, and
    whether its owner asked fal to cancel it."""

    channel_slug: str | None
    channel_title: str | None
    image_count: int
    steps: int | None
    first_image_url: str | None
    cancel_requested: bool


def _image_urls(text: Any) -> list[str]:
    try:
        urls = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


async def card_facts(db: Database, lora_id: str) -> CardFacts | None:
    """None when there is no such training. The channel is known only for trainings
    started from /train (the order that paid for it)."""
    row = await db.fetchone(
        "SELECT t.steps, t.image_urls, j.cancel_requested_at, "
        "(SELECT o.channel_slug FROM training_orders o WHERE o.lora_training_id = t.id "
        " LIMIT 1) AS channel_slug, "
        "(SELECT o.channel_title FROM training_orders o WHERE o.lora_training_id = t.id "
        " LIMIT 1) AS channel_title, "
        "(SELECT o.image_count FROM training_orders o WHERE o.lora_training_id = t.id "
        " LIMIT 1) AS image_count "
        "FROM lora_trainings t LEFT JOIN training_jobs j ON j.lora_training_id = t.id "
        "WHERE t.id = ?",
        (lora_id,),
    )
    if row is None:
        return None
    urls = _image_urls(row["image_urls"])
    steps = row["steps"]
    return CardFacts(
        channel_slug=row["channel_slug"],
        channel_title=row["channel_title"],
        image_count=len(urls) or int(row["image_count"] or 0),
        steps=int(steps) if steps not in (None, "") else None,
        first_image_url=urls[0] if urls else None,
        cancel_requested=row["cancel_requested_at"] is not None,
    )


@dataclass(frozen=True, slots=True)
class CardPlace:
    """Where a training's progress card is in Discord."""

    channel_id: int
    message_id: int


async def card_place(db: Database, lora_id: str) -> CardPlace | None:
    row = await db.fetchone(
        "SELECT channel_id, progress_message_id FROM training_jobs WHERE lora_training_id = ?",
        (lora_id,),
    )
    if row is None or not row["channel_id"] or not row["progress_message_id"]:
        return None
    return CardPlace(int(row["channel_id"]), int(row["progress_message_id"]))
