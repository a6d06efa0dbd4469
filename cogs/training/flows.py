"""What each /train button does, from the click to the training desk and back.

Module-level functions, each taking a typed interaction: `cogs.training.views` maps a
button's kind to one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.payments.verifier import PaymentPending
from bot.services.records import WatchedTraining
from cogs.common.text import discord_moment
from cogs.training import render
from cogs.training.ids import nonce_for

if TYPE_CHECKING:
    from bot.app import LoraBot


async def start(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    desk = interaction.client.services.training
    await desk.order_of(order_id, interaction.user.id)  # refuse strangers first
    await interaction.response.edit_message(
        content="Preparing the images and submitting to fal.ai… (this can take a minute)",
        embeds=[],
        view=None,
    )
    await submit(interaction, order_id)


async def submit(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    from cogs.training.views import buttons_for, view_of

    desk = interaction.client.services.training
    gallery = interaction.client.services.gallery
    channel = interaction.channel
    channel_id = channel.id if isinstance(channel, discord.abc.Messageable) else None

    async def announce(watched: WatchedTraining) -> int | None:
        if not isinstance(channel, discord.abc.Messageable):
            return None
        # The watcher posts it when this cannot (a crash, an outage); the same nonce
        # makes Discord return one message when both try.
        message = await channel.send(
            embed=render.progress_embed(watched, None),
            view=view_of(*await buttons_for(gallery, watched.lora_id, "stop")),
            nonce=nonce_for("progress", watched.lora_id),
        )
        return message.id

    try:
        submitted = await desk.submit(
            order_id, interaction.user.id, channel_id=channel_id, announce=announce
        )
    except UserFacingError as exc:
        await interaction.edit_original_response(
            content=f"Not submitted: {exc.render(discord_moment)}", embeds=[], view=None
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


async def paid(interaction: discord.Interaction[LoraBot], order_id: str, tx_hash: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await _settle(interaction, order_id, tx_hash)


async def check_payment(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await _settle(interaction, order_id, None)


async def _settle(
    interaction: discord.Interaction[LoraBot], order_id: str, tx_hash: str | None
) -> None:
    from cogs.training.views import buttons_for, view_of

    services = interaction.client.services
    if tx_hash is None and await services.credits.available(interaction.user.id):
        # Already paid (the payment page checked it, or an earlier payment): go.
        await interaction.followup.send("Payment found. Starting the training…", ephemeral=True)
        await submit(interaction, order_id)
        return
    result = await services.training.pay(order_id, interaction.user.id, tx_hash)
    if isinstance(result, PaymentPending):
        await interaction.followup.send(
            result.message,
            view=view_of(*await buttons_for(services.gallery, order_id, "check")),
            ephemeral=True,
        )
        return
    await interaction.followup.send(f"{result.message} Starting the training…", ephemeral=True)
    await submit(interaction, order_id)


async def drop(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    await interaction.client.services.training.drop(order_id, interaction.user.id)
    await interaction.response.edit_message(
        content="Cancelled. Nothing was charged.", embeds=[], view=None
    )


async def cancel_training(interaction: discord.Interaction[LoraBot], lora_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    if await interaction.client.services.training.cancel(lora_id, interaction.user.id):
        await interaction.followup.send(
            "Cancelling: fal.ai took the request. Your training credit comes back as soon as "
            "fal.ai confirms the job is cancelled (usually within a minute); the progress "
            "message will say so.",
            ephemeral=True,
        )
    else:
        await interaction.followup.send(
            "fal.ai has already started this training, so it can no longer be cancelled.",
            ephemeral=True,
        )
