"""The bot, not a cog, follows trainings: with the training cog missing, a pending
training is still finished; the user is told once the cog (its notifier) is back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cogs import EXTENSIONS
from tests.e2e.conftest import BotHarness
from tests.e2e.test_train import (
    ALICE,
    CHANNEL,
    card_of,
    is_mention,
    mention,
    services,
    training_bot,
)
from tests.fakes.discord import DiscordEmulator
from tests.support.gallery_rows import WALLET_A

__all__ = ["services"]  # the fixture used here

LORA_ID = "ab" * 16
NOW = "2026-12-01T10:00:00.000Z"


async def pending_training(bot: Any, request_id: str) -> None:
    await bot.db.execute(
        "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
        "image_urls, lora_weights_url, status, created_at) "
        "VALUES (?, ?, ?, 'cogless', 1000, ?, NULL, 'pending', ?)",
        (LORA_ID, request_id, WALLET_A, json.dumps(["https://example.test/a.jpg"]), NOW),
    )
    await bot.db.execute(
        "INSERT INTO training_jobs (lora_training_id, request_id, discord_user_id, channel_id, "
        "state, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
        (LORA_ID, request_id, str(ALICE), str(CHANNEL), NOW, NOW),
    )


async def status_becomes(bot: Any, status: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        row = await bot.db.fetchone("SELECT status FROM lora_trainings WHERE id = ?", (LORA_ID,))
        if row is not None and row["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the training did not become {status} within {timeout} s")


async def test_trainings_are_followed_without_the_training_cog(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    without_training = tuple(e for e in EXTENSIONS if e != "cogs.training")
    async with training_bot(harness, services, extensions=without_training) as bot:
        assert bot.get_cog("Training") is None
        assert bot.services.watcher is not None and bot.services.watcher.notifier is None
        await pending_training(bot, fal.add())
        await status_becomes(bot, "completed")
        # Nobody to tell yet: the news waits instead of being marked as told.
        job = await bot.db.fetchone(
            "SELECT notified_at FROM training_jobs WHERE lora_training_id = ?", (LORA_ID,)
        )
        assert job is not None and job["notified_at"] is None
        assert not any(is_mention(m) for m in emulator.channel_messages(CHANNEL))

        await bot.load_extension("cogs.training")  # the notifier registers itself
        told = await mention(emulator)
        assert "cogless" in card_of(emulator, told)["embeds"][0]["title"]
