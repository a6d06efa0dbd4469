"""What each /train button does, from the click to the training desk and back.

Module-level functions, each taking a typed interaction: `cogs.training.views` maps a
button's kind to one of them.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.payments.verifier import PaymentPending
from bot.services.records import WatchedTraining
from bot.services.training.desk import AlreadySubmitted
from cogs.common.text import discord_moment
from cogs.training import progress
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
        facts = await desk.card_of(watched.lora_id) or progress.NO_FACTS
        message = await channel.send(
            embed=progress.progress_embed(watched, None, facts),
            view=view_of(*await buttons_for(gallery, watched.lora_id, "stop")),
            nonce=nonce_for("progress", watched.lora_id),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return message.id

    try:
        submitted = await desk.submit(
            order_id, interaction.user.id, channel_id=channel_id, announce=announce
        )
    except AlreadySubmitted as exc:
        await refuse_with_progress(interaction, exc)
        return
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


async def refuse_with_progress(
    interaction: discord.Interaction[LoraBot], refusal: AlreadySubmitted
) -> None:
    """The training is under way already: say so, with a link to its card."""
    from cogs.training.views import view_of

    place = None
    if refusal.lora_id is not None:
        place = await interaction.client.services.training.card_place(refusal.lora_id)
    view = None
    if place is not None:
        guild = progress.card_guild(interaction.client, place, interaction.guild_id)
        view = view_of(progress.open_progress(progress.card_url(guild, place)))
    text = refusal.render(discord_moment)
    if interaction.response.is_done():
        await interaction.edit_original_response(content=text, embeds=[], view=view)
    elif view is None:
        await interaction.response.send_message(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True, view=view)


async def train_again(interaction: discord.Interaction[LoraBot], lora_id: str) -> None:
    """Retry a failed training with its channel, trigger word and steps: the same
    submission as /train's, paid by the credit the failure kept."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        order = await interaction.client.services.training.train_again(lora_id, interaction.user.id)
    except AlreadySubmitted as exc:
        await refuse_with_progress(interaction, exc)
        return
    await interaction.edit_original_response(
        content="Preparing the images and submitting to fal.ai again… (this can take a minute)"
    )
    await submit(interaction, order.id)


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
        if interaction.message is not None:
            # No Cancel button once fal has the request: pressing it again changes nothing.
            with contextlib.suppress(discord.HTTPException):
                await interaction.message.edit(view=None)
        await interaction.followup.send(
            "Cancelling: fal.ai took the request. Your training credit comes back as soon as "
            "fal.ai confirms the job is cancelled (usually within a minute); the progress "
            "message will say so.",
            ephemeral=True,
        )
    else:
        if interaction.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await interaction.message.edit(view=None)
        await interaction.followup.send(
            "fal.ai has already started this training, so it can no longer be cancelled.",
            ephemeral=True,
        )
