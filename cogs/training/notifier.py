"""How the training watcher's news reaches Discord: the one progress message per
training is edited (through the bot's own channel permissions, not the 15-minute
interaction token), and the end mentions the user.

The bot owns the watcher; this cog registers a `DiscordTrainingNotifier` on it when it
loads, so trainings are followed even when this cog fails to load (the news waits).

Discord's limits on long work: after a few edits Discord refuses to edit a message
older than an hour (30046); then a fresh progress message is posted as a reply to the
old one (the reply links it), and the watcher records the new id. The mention is sent
with a nonce Discord enforces, so a retry after a crash mid-send gets back the message
the first attempt posted instead of a second mention.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.services.records import TrainingStatus, WatchedTraining
from bot.services.training.watcher import TrainingOutcome
from cogs.common.id_keys import handles_for
from cogs.training import render
from cogs.training.ids import nonce_for
from cogs.training.views import buttons_for, view_of

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
TOO_MANY_OLD_EDITS = 30046  # Discord: edits to messages older than 1 hour are capped


class DiscordTrainingNotifier:
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    def _channel(self, training: WatchedTraining) -> discord.PartialMessageable | None:
        if training.channel_id is None:
            return None
        return self.bot.get_partial_messageable(training.channel_id)

    async def progress(
        self, training: WatchedTraining, status: TrainingStatus | None
    ) -> int | None:
        channel = self._channel(training)
        if channel is None:
            return None
        embed = render.progress_embed(training, status)
        view = view_of(*await buttons_for(self.bot.services.gallery, training.lora_id, "stop"))
        if training.progress_message_id is None:
            # The submission could not post it (a crash, a Discord outage): post it now.
            message = await channel.send(
                embed=embed, view=view, nonce=nonce_for("progress", training.lora_id)
            )
            return message.id
        old = channel.get_partial_message(training.progress_message_id)
        try:
            await old.edit(embed=embed, view=view)
        except discord.NotFound:
            fresh = await channel.send(embed=embed, view=view)
            return fresh.id
        except discord.HTTPException as exc:
            if exc.code != TOO_MANY_OLD_EDITS:
                raise
            fresh = await channel.send(
                embed=embed, view=view, reference=old.to_reference(fail_if_not_exists=False)
            )
            log.info("progress continues in a fresh message", extra={"lora_id": training.lora_id})
            return fresh.id
        return None

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> int | None:
        channel = self._channel(training)
        embed = render.finished_embed(training, outcome)
        if channel is None:
            return None
        if training.progress_message_id is not None:
            try:
                # The final state, without the Cancel button.
                await channel.get_partial_message(training.progress_message_id).edit(
                    embed=embed, view=None
                )
            except discord.HTTPException:
                # Gone, or past Discord's edit cap: the mention below carries the result.
                log.info("could not edit the progress message", extra={"lora_id": training.lora_id})
        content, mentions = render.mention_of(training, outcome)
        view = render.finished_view(
            training, outcome, await handles_for(self.bot.services.gallery, [training.lora_id])
        )
        nonce = nonce_for("done", training.lora_id)
        if view is None:
            told = await channel.send(
                content=content, embed=embed, allowed_mentions=mentions, nonce=nonce
            )
        else:
            told = await channel.send(
                content=content, embed=embed, allowed_mentions=mentions, view=view, nonce=nonce
            )
        return told.id
