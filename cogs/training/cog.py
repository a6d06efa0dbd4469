"""Trainings in Discord: the watcher's loop and how its news is shown.

Progress lives in one channel message per training (edited through the bot's own
channel permissions, not the 15-minute interaction token); the end mentions the user.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.clients.fal_training import TrainingStatus
from bot.errors import NotConfigured, UserFacingError
from bot.services.payments.verifier import PaymentPending
from bot.services.training.desk import STEPS_DEFAULT, STEPS_MAX, STEPS_MIN, Preview, TrainingDesk
from bot.services.training.watcher import TrainingOutcome, TrainingWatcher
from cogs.common.text import safe, short_address
from cogs.training import render as V
from cogs.training import views as B
from storage.training_orders import Order
from storage.trainings import WatchedTraining

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
            await message.edit(embed=V.progress_embed(training, status))

    async def finished(self, training: WatchedTraining, outcome: TrainingOutcome) -> None:
        message = self._message(training)
        embed = V.finished_embed(training, outcome)
        if message is not None:
            try:
                await message.edit(embed=embed)
            except discord.NotFound:
                log.info("progress message is gone", extra={"lora_id": training.lora_id})
        if training.channel_id is None:
            return
        content, mentions = V.mention_of(training)
        view = V.finished_view(training, outcome)
        channel = self.bot.get_partial_messageable(training.channel_id)
        if view is None:
            await channel.send(content=content, embed=embed, allowed_mentions=mentions)
        else:
            await channel.send(content=content, embed=embed, allowed_mentions=mentions, view=view)


def desk_of(bot: LoraBot) -> TrainingDesk:
    if bot.training_desk is None:
        raise NotConfigured("Training", ["FAL_KEY"])
    return bot.training_desk


def preview_embeds(preview: Preview) -> list[discord.Embed]:
    channel, order, price = preview.channel, preview.order, preview.price
    if price.kind == "admin":
        cost = "Free (admin wallet)."
    elif price.kind == "credit":
        cost = "Uses your training credit."
    else:
        cost = (
            f"**{price.eth}** (about {price.usd}), valid 15 minutes. Send it on Base from "
            f"your linked wallet {short_address(order.wallet)} to the treasury, then press "
            "**Paste transaction hash**."
        )
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(channel.skipped.items()))
    card = discord.Embed(
        title=f"Train “{order.trigger_word}” from {safe(channel.title, 150, single_line=True)}",
        url=f"https://www.are.na/channel/{order.channel_slug}",
        description=(
            f"{order.image_count} images"
            + (f" (skipped: {skipped})" if skipped else "")
            + f" · {order.steps} steps\n{cost}"
        ),
        colour=discord.Colour.blurple(),
    )
    embeds = [card]
    for image in channel.images[:4]:
        if image.thumb_url:
            if len(embeds) == 1:
                card.set_image(url=image.thumb_url)
            else:
                embeds.append(discord.Embed(url=card.url).set_image(url=image.thumb_url))
    if price.kind == "quote" and price.treasury:
        card.add_field(name="Treasury (Base)", value=f"`{price.treasury}`", inline=False)
    return embeds


class Training(commands.Cog, name=B.COG_NAME):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self.watcher: TrainingWatcher | None = None

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
        desk = desk_of(self.bot)
        await interaction.response.defer(ephemeral=True, thinking=True)
        preview = await desk.preview(interaction.user.id, channel, trigger_word, steps)
        order = preview.order
        if preview.price.kind == "quote":
            items: list[discord.ui.Item[Any]] = []
            base = self.bot.settings.public_base_url
            if base:
                url = f"{str(base).rstrip('/')}/pay/{order.id}"
                items.append(discord.ui.Button(label="Pay with browser wallet", url=url))
            items += [
                B.TrainButton("tx", order.id),
                B.TrainButton("check", order.id),
                B.TrainButton("drop", order.id),
            ]
            view = B.view_of(*items)
        else:
            view = B.view_of(B.TrainButton("go", order.id), B.TrainButton("drop", order.id))
        await interaction.followup.send(embeds=preview_embeds(preview), view=view, ephemeral=True)

    @app_commands.command(name="trainings", description="Your trainings and how they are doing")
    async def trainings(self, interaction: discord.Interaction[LoraBot]) -> None:
        rows = await desk_of(self.bot).trainings_of(interaction.user.id)
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
        credits = await self.bot.credits.available(interaction.user.id)
        embed = discord.Embed(title="Your trainings", description="\n".join(lines)[:4000])
        if credits:
            embed.set_footer(text=f"{len(credits)} unused training credit(s)")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # --- button flows (called by cogs/views/train_buttons.py) ------------------------
    async def on_go(self, interaction: discord.Interaction[Any], order_id: str) -> None:
        await desk_of(self.bot).order_of(order_id, interaction.user.id)  # refuse strangers first
        await interaction.response.edit_message(
            content="Preparing the images and submitting to fal.ai… (this can take a minute)",
            embeds=[],
            view=None,
        )
        await self._submit(interaction, order_id)

    async def _submit(self, interaction: discord.Interaction[Any], order_id: str) -> None:
        desk = desk_of(self.bot)
        channel = interaction.channel

        async def announce(lora_id: str, order: Order) -> tuple[int, int] | None:
            if not isinstance(channel, discord.abc.Messageable) or channel.id is None:
                return None
            watched = WatchedTraining(
                lora_id,
                "",
                order.trigger_word,
                order.wallet,
                order.discord_user_id,
                channel.id,
                None,
                None,
                "queued",
                iso_now(),
            )
            message = await channel.send(
                embed=V.progress_embed(watched, None),
                view=B.view_of(B.TrainButton("stop", lora_id)),
            )
            return channel.id, message.id

        try:
            submitted = await desk.submit(order_id, interaction.user.id, announce)
        except UserFacingError as exc:
            await interaction.edit_original_response(
                content=f"Not submitted: {exc.message} Your credit is kept.", embeds=[], view=None
            )
            raise
        await interaction.edit_original_response(
            content=(
                f"Submitted {submitted.image_count} images to fal.ai"
                + (f" ({submitted.skipped} skipped)" if submitted.skipped else "")
                + ". Progress is shown in this channel; you'll be mentioned when it's done."
            ),
            embeds=[],
            view=None,
        )

    async def on_paid(
        self, interaction: discord.Interaction[Any], order_id: str, tx_hash: str
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._settle(interaction, order_id, tx_hash)

    async def on_check(self, interaction: discord.Interaction[Any], order_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._settle(interaction, order_id, None)

    async def _settle(
        self, interaction: discord.Interaction[Any], order_id: str, tx_hash: str | None
    ) -> None:
        if tx_hash is None and await self.bot.credits.available(interaction.user.id):
            # Already paid (the payment page checked it, or an earlier payment): go.
            await interaction.followup.send("Payment found. Starting the training…", ephemeral=True)
            await self._submit(interaction, order_id)
            return
        result = await desk_of(self.bot).pay(order_id, interaction.user.id, tx_hash)
        if isinstance(result, PaymentPending):
            await interaction.followup.send(
                result.message, view=B.view_of(B.TrainButton("check", order_id)), ephemeral=True
            )
            return
        await interaction.followup.send(f"{result.message} Starting the training…", ephemeral=True)
        await self._submit(interaction, order_id)

    async def on_drop(self, interaction: discord.Interaction[Any], order_id: str) -> None:
        await desk_of(self.bot).drop(order_id, interaction.user.id)
        await interaction.response.edit_message(
            content="Cancelled. Nothing was charged.", embeds=[], view=None
        )

    async def on_stop(self, interaction: discord.Interaction[Any], lora_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if await desk_of(self.bot).cancel(lora_id, interaction.user.id):
            await interaction.followup.send(
                "Cancelled. Your training credit is back for the next /train.", ephemeral=True
            )
        else:
            await interaction.followup.send(
                "fal.ai has already started this training, so it can no longer be cancelled.",
                ephemeral=True,
            )

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(B.TrainButton)
        trainer = self.bot.trainer
        if trainer is None:
            log.info("training watcher off: FAL_KEY is not set")
            return
        self.watcher = TrainingWatcher(
            self.bot.db,
            trainer,
            DiscordTrainingNotifier(self.bot),
            restore_credit=self.bot.credits.restore_for_training,
            lease=timedelta(seconds=self.bot.settings.training_lease_seconds),
        )
        self.watch.change_interval(seconds=self.bot.settings.training_poll_seconds)
        self.watch.start()

    async def cog_unload(self) -> None:
        self.watch.cancel()
        if self.watcher is not None:
            await self.watcher.stop()
        self.bot.remove_dynamic_items(B.TrainButton)

    @tasks.loop(seconds=10)
    async def watch(self) -> None:
        assert self.watcher is not None
        try:
            await self.watcher.poll_once()
        except Exception:
            # The loop must survive anything: the next poll tries again.
            log.exception("training watcher poll failed")

    @watch.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()
