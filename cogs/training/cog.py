"""`/train` and `/trainings`. The buttons' flows are in `flows.py`, the messages in
`render.py`; the bot runs the training watcher, this cog only tells it how to reach
Discord (`notifier.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.records import CardPlace, read_time
from bot.services.training.desk import STEPS_DEFAULT, STEPS_MAX, STEPS_MIN, TrainingNeedsWallet
from bot.services.training.watcher import CANCELLED
from cogs.common.errors import report
from cogs.common.id_keys import handles_for
from cogs.common.respond import Target, acknowledge
from cogs.common.text import plain, safe, timestamp
from cogs.gallery.ids import SELECT_ID, select_value
from cogs.training import progress, render
from cogs.training.notifier import DiscordTrainingNotifier
from cogs.training.payment_copy import payment_content, payment_files
from cogs.training.preview import PreviewFollower, pay_url, preview_view
from cogs.training.views import TrainButton
from cogs.wallet.views import LinkWalletButton

if TYPE_CHECKING:
    from bot.app import LoraBot
    from bot.services.records import TrainingSummary


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
        # Bounded here so Discord's client refuses other values; the desk checks again.
        steps: app_commands.Range[int, STEPS_MIN, STEPS_MAX] = STEPS_DEFAULT,
    ) -> None:
        desk = self.bot.services.training
        await acknowledge(interaction, Target.PRIVATE)
        try:
            preview = await desk.preview(
                interaction.user.id,
                channel,
                trigger_word,
                steps,
                user_name=interaction.user.name,
                guild_name=interaction.guild.name if interaction.guild else None,
                channel_id=interaction.channel_id,
            )
        except TrainingNeedsWallet as missing:  # the refusal carries its fix
            await report(interaction, missing, fix=LinkWalletButton())
            return
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
        # Private "thinking…" first: the list needs trainings, credits and handles.
        await acknowledge(interaction, Target.PRIVATE)
        rows = await self.bot.services.training.trainings_of(interaction.user.id)
        if not rows:
            await interaction.edit_original_response(
                content="You have no trainings yet. Start one with /train."
            )
            return
        lines = []
        for row in rows:
            line = f"**{safe(row.trigger_word, 60, single_line=True)}** — {_state_of(row)}"
            started = read_time(row.created_at)
            if started is not None:
                line += f" · {timestamp(int(started.timestamp()), 'R')}"
            if row.channel_id and row.progress_message_id:
                place = CardPlace(row.channel_id, row.progress_message_id)
                guild = progress.card_guild(self.bot, place, interaction.guild_id)
                line += f" · [card]({progress.card_url(guild, place)})"
            lines.append(line)
        credits = await self.bot.services.credits.available(interaction.user.id)
        embed = discord.Embed(title="Your trainings", description="\n".join(lines)[:4000])
        if credits:
            embed.set_footer(text=f"{len(credits)} unused training credit(s)")
        view = await self._open_menu([r for r in rows if r.status == "completed"])
        await interaction.edit_original_response(embed=embed, view=view)

    async def _open_menu(self, done: list[TrainingSummary]) -> discord.ui.View | None:
        """A menu that opens one trained LoRA (the gallery's own menu: its select
        opens the LoRA's page privately)."""
        handles = await handles_for(self.bot.services.gallery, [r.lora_id for r in done])
        options = []
        for row in done[:25]:
            value = select_value(row.lora_id, handles)
            if value is not None:
                options.append(
                    discord.SelectOption(label=plain(row.trigger_word, 100), value=value)
                )
        if not options:
            return None
        view = discord.ui.View(timeout=None)
        view.add_item(
            discord.ui.Select(custom_id=SELECT_ID, placeholder="Open a LoRA…", options=options)
        )
        return view


def _state_of(row: TrainingSummary) -> str:
    if row.status == "completed":
        return "✅ ready"
    if row.status == "failed" and row.error == CANCELLED:
        return "cancelled"
    if row.status == "failed":
        return f"❌ failed: {safe(str(row.error or 'fal.ai reported an error'), 120)}"
    if row.steps_total:
        return f"⏳ training {row.steps_done or 0}/{row.steps_total} steps"
    return "⏳ queued"
