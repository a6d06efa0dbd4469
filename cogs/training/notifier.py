"""How the training watcher's news reaches Discord: the one progress card per training
is edited (through the bot's own channel permissions, not the 15-minute interaction
token) from queued to its final state, and a short reply to the card mentions the owner
when it ends (not when they cancelled it themselves: they know).

The bot owns the watcher; this cog registers a `DiscordTrainingNotifier` on it when it
loads, so trainings are followed even when this cog fails to load (the news waits).

Discord's limits on long work: after a few edits Discord refuses to edit a message
older than an hour (30046); then a fresh card is posted as a reply to the old one (the
reply links it), and the watcher records the new id. At the end the same applies: the
final state goes to a fresh card when the old one takes no more edits. The fresh final
card and the mention are sent with nonces Discord enforces, so a retry after a crash
mid-send gets back the message the first attempt posted instead of a second one.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.services.records import CardFacts, TrainingStatus, WatchedTraining
from bot.services.training.watcher import TrainingOutcome
from cogs.common.id_keys import handles_for
from cogs.training import progress
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

    async def _facts(self, training: WatchedTraining) -> CardFacts:
        return await self.bot.services.training.card_of(training.lora_id) or progress.NO_FACTS

    async def card_view(
        self, training: WatchedTraining, status: TrainingStatus | None, facts: CardFacts
    ) -> discord.ui.View:
        gallery = self.bot.services.gallery
        stop = progress.can_cancel(status, facts)
        return view_of(*(await buttons_for(gallery, training.lora_id, "stop") if stop else []))

    async def progress(
        self, training: WatchedTraining, status: TrainingStatus | None
    ) -> int | None:
        channel = self._channel(training)
        if channel is None:
            return None
        facts = await self._facts(training)
        embed = progress.progress_embed(training, status, facts)
        view = await self.card_view(training, status, facts)
        if training.progress_message_id is None:
            # The submission could not post it (a crash, a Discord outage): post it now.
            message = await channel.send(
                embed=embed,
                view=view,
                nonce=nonce_for("progress", training.lora_id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            shown = message.embeds[0].description if message.embeds else None
            if shown != embed.description:
                # The nonce gave back the card the submission had just posted, with what
                # it said then: bring it up to date.
                posted = replace(training, progress_message_id=message.id)
                fresh = await self._edit_or_continue(channel, posted, embed, view)
                return fresh or message.id
            return message.id
        return await self._edit_or_continue(channel, training, embed, view)

    async def _edit_or_continue(
        self,
        channel: discord.PartialMessageable,
        training: WatchedTraining,
        embed: discord.Embed,
        view: discord.ui.View,
        *,
        nonce: str | None = None,
    ) -> int | None:
        """Edit the card; None when that worked, else the id of the fresh card posted
        in its place (the old one is gone, or takes no more edits)."""
        assert training.progress_message_id is not None
        old = channel.get_partial_message(training.progress_message_id)
        quiet = discord.AllowedMentions.none()
        once: dict[str, Any] = {} if nonce is None else {"nonce": nonce}
        try:
            await old.edit(embed=embed, view=view, allowed_mentions=quiet)
        except discord.NotFound:
            fresh = await channel.send(embed=embed, view=view, allowed_mentions=quiet, **once)
            return fresh.id
        except discord.HTTPException as exc:
            if exc.code != TOO_MANY_OLD_EDITS:
                raise
            fresh = await channel.send(
                embed=embed,
                view=view,
                reference=old.to_reference(fail_if_not_exists=False),
                allowed_mentions=quiet,
                **once,
            )
            log.info("progress continues in a fresh message", extra={"lora_id": training.lora_id})
            return fresh.id
        return None

    async def _final_view(
        self, training: WatchedTraining, outcome: TrainingOutcome
    ) -> discord.ui.View:
        """The card's buttons at the end: Open and Generate, or Train again."""
        if outcome.status == "completed":
            handles = await handles_for(self.bot.services.gallery, [training.lora_id])
            return view_of(*progress.done_buttons(training, handles))
        if outcome.cancelled:
            return view_of()
        return view_of(*await buttons_for(self.bot.services.gallery, training.lora_id, "again"))

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> int | None:
        """Edit the card into its final state, then reply to it with the mention (none
        for a cancellation). Returns the reply's id (the card's, when nothing was
        sent)."""
        channel = self._channel(training)
        if channel is None:
            return None
        facts = await self._facts(training)
        embed = progress.finished_embed(training, outcome, facts)
        view = await self._final_view(training, outcome)
        card_id = training.progress_message_id
        if card_id is None:
            posted = await channel.send(
                embed=embed,
                view=view,
                nonce=nonce_for("final", training.lora_id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            card_id = posted.id
        else:
            fresh = await self._edit_or_continue(
                channel, training, embed, view, nonce=nonce_for("final", training.lora_id)
            )
            card_id = fresh or card_id
        if card_id != training.progress_message_id:
            # Jump links (/trainings, Open progress) lead to the card with the end.
            await self.bot.services.training.record_card(training.lora_id, card_id)
        if outcome.cancelled:
            return card_id
        extra: dict[str, Any] = {}
        if outcome.status == "completed":
            extra["view"] = view  # the reply is where the ping leads: the next step is there
        told = await channel.send(
            content=progress.mention_content(training, outcome),
            allowed_mentions=progress.owner_only(training),
            reference=channel.get_partial_message(card_id).to_reference(fail_if_not_exists=False),
            nonce=nonce_for("done", training.lora_id),
            **extra,
        )
        return told.id
