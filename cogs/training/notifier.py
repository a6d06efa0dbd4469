"""How the training watcher's news reaches Discord: the one progress message per
training is edited (through the bot's own channel permissions, not the 15-minute
interaction token), and the end mentions the user.

The bot owns the watcher; this cog registers a `DiscordTrainingNotifier` on it when it
loads, so trainings are followed even when this cog fails to load (the news waits).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.services.records import TrainingStatus, WatchedTraining
from bot.services.training.watcher import TrainingOutcome
from cogs.training import render

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)


class DiscordTrainingNotifier:
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    def _message(self, training: WatchedTraining) -> discord.PartialMessage | None:
        if training.channel_id is None or training.progress_message_id is None:
            return None
        channel = self.bot.get_partial_messageable(training.channel_id)
        return channel.get_partial_message(training.progress_message_id)

    async def progress(self, training: WatchedTraining, status: TrainingStatus) -> None:
        message = self._message(training)
        if message is not None:
            await message.edit(embed=render.progress_embed(training, status))

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> None:
        message = self._message(training)
        embed = render.finished_embed(training, outcome)
        if message is not None:
            try:
                await message.edit(embed=embed)
            except discord.NotFound:
                log.info("progress message is gone", extra={"lora_id": training.lora_id})
        if training.channel_id is None:
            return
        content, mentions = render.mention_of(training)
        view = render.finished_view(training, outcome)
        channel = self.bot.get_partial_messageable(training.channel_id)
        if view is None:
            await channel.send(content=content, embed=embed, allowed_mentions=mentions)
        else:
            await channel.send(content=content, embed=embed, allowed_mentions=mentions, view=view)
