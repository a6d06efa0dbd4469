"""`/train` and `/trainings`. The buttons' flows are in `flows.py`, the messages in
`render.py`; the bot runs the training watcher, this cog only tells it how to reach
Discord (`notifier.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.training.desk import STEPS_DEFAULT, STEPS_MAX, STEPS_MIN
from cogs.common.text import safe
from cogs.training import render
from cogs.training.notifier import DiscordTrainingNotifier
from cogs.training.payment_copy import payment_content, payment_files
from cogs.training.views import TrainButton, buttons_for, view_of

if TYPE_CHECKING:
    from bot.app import LoraBot


class Training(commands.Cog, name="Training"):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(TrainButton)
        watcher = self.bot.services.watcher
        if watcher is not None:
            watcher.notifier = DiscordTrainingNotifier(self.bot)

    async def cog_unload(self) -> None:
        watcher = self.bot.services.watcher
        if watcher is not None:
            watcher.notifier = None
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
        desk, desk_gallery = self.bot.services.training, self.bot.services.gallery
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await desk.preview(
            interaction.user.id,
            channel,
            trigger_word,
            steps,
            user_name=interaction.user.name,
            guild_name=interaction.guild.name if interaction.guild else None,
        )
        order = preview.order
        if preview.price.kind == "quote":
            items: list[discord.ui.Item[Any]] = []
            base = self.bot.settings.public_base_url
            if base:
                url = f"{str(base).rstrip('/')}/pay/{quote(order.id, safe='')}"
                items.append(discord.ui.Button(label="Open payment page", url=url))
            items += await buttons_for(desk_gallery, order.id, "tx", "check", "drop")
            view = view_of(*items)
        else:
            view = view_of(*await buttons_for(desk_gallery, order.id, "go", "drop"))
        await interaction.followup.send(
            content=payment_content(preview) or discord.utils.MISSING,
            embeds=render.preview_embeds(preview),
            files=payment_files(preview),
            view=view,
            ephemeral=True,
        )

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
