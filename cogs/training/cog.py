"""`/train` and `/trainings`. The buttons' flows are in `flows.py`, the messages in
`render.py`; the bot runs the training watcher, this cog only tells it how to reach
Discord (`notifier.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.training.desk import STEPS_DEFAULT, STEPS_MAX, STEPS_MIN
from cogs.common.text import safe
from cogs.training import render
from cogs.training.notifier import DiscordTrainingNotifier
from cogs.training.payment_copy import payment_content, payment_files
from cogs.training.preview import PreviewFollower, pay_url, preview_view
from cogs.training.views import TrainButton

if TYPE_CHECKING:
    from bot.app import LoraBot


class Training(commands.Cog, name="Training"):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self.follower = PreviewFollower(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(TrainButton)
        watcher = self.bot.services.watcher
        if watcher is not None:
            watcher.notifier = DiscordTrainingNotifier(self.bot)
        self.bot.services.checkout.follower = self.follower

    async def cog_unload(self) -> None:
        watcher = self.bot.services.watcher
        if watcher is not None:
            watcher.notifier = None
        self.bot.services.checkout.follower = None
        self.bot.remove_dynamic_items(TrainButton)

    @app_commands.command(name="train", description="Train a LoRA on an Are.na channel's images")
    @app_commands.describe(
        channel="An Are.na channel link or slug",
        trigger_word="The word that will call up the style (e.g. mystyle)",
        steps=f"Training steps ({STEPS_MIN}–{STEPS_MAX}, default {STEPS_DEFAULT})",
    )
    async def train(
        self,
        interaction: discord.Interaction[LoraBot],
        channel: str,
        trigger_word: str,
        steps: int = STEPS_DEFAULT,
    ) -> None:
        desk = self.bot.services.training
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await desk.preview(
            interaction.user.id,
            channel,
            trigger_word,
            steps,
            user_name=interaction.user.name,
            guild_name=interaction.guild.name if interaction.guild else None,
            channel_id=interaction.channel_id,
        )
        order_id = preview.order.id
        view = await preview_view(self.bot, order_id, preview.price.kind)
        embeds = render.preview_embeds(preview, pay_page=pay_url(self.bot, order_id) is not None)
        await interaction.followup.send(
            content=payment_content(preview) or discord.utils.MISSING,
            embeds=embeds,
            files=payment_files(preview),
            view=view,
            ephemeral=True,
        )
        # The preview is this interaction's response: the follower edits it when the
        # payment page (or anything else) settles the order.
        self.follower.remember(order_id, interaction)

    @app_commands.command(name="trainings", description="Your trainings and how they are doing")
    async def trainings(self, interaction: discord.Interaction[LoraBot]) -> None:
        rows = await self.bot.services.training.trainings_of(interaction.user.id)
        if not rows:
            await interaction.response.send_message(
                "You have no trainings yet. Start one with /train.", ephemeral=True
            )
            return
        lines = []
        for row in rows:
            state = row.status
            if state == "pending" and row.steps_total:
                state = f"training {row.steps_done}/{row.steps_total} steps"
            elif state == "pending":
                state = "queued"
            elif state == "failed" and row.error:
                state = f"failed: {safe(str(row.error), 120)}"
            lines.append(f"**{safe(row.trigger_word, 60, single_line=True)}** — {state}")
        credits = await self.bot.services.credits.available(interaction.user.id)
        embed = discord.Embed(title="Your trainings", description="\n".join(lines)[:4000])
        if credits:
            embed.set_footer(text=f"{len(credits)} unused training credit(s)")
        await interaction.response.send_message(embed=embed, ephemeral=True)
