"""What each /train button does, from the click to the training desk and back.

Module-level functions, each taking a typed interaction: `cogs.training.views` maps a
button's kind to one of them. Paying and starting go through `Checkout.settle`, the
same function the payment page calls; the preview follows it (`preview.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.payments.verifier import PaymentPartial, PaymentPending
from bot.services.training.checkout import (
    AlreadyStarted,
    CreditKept,
    Settlement,
    Started,
    Starting,
)
from cogs.common.text import discord_moment
from cogs.training.preview import PreviewFollower, preview_view, seen_text, started_text

if TYPE_CHECKING:
    from bot.app import LoraBot


def _follower(interaction: discord.Interaction[LoraBot]) -> PreviewFollower | None:
    follower = interaction.client.services.checkout.follower
    return follower if isinstance(follower, PreviewFollower) else None


def _channel_id(interaction: discord.Interaction[LoraBot]) -> int | None:
    channel = interaction.channel
    return channel.id if isinstance(channel, discord.abc.Messageable) else None


def _started(interaction: discord.Interaction[LoraBot], result: Started) -> str:
    follower = _follower(interaction)
    card = follower.card_url(result.submitted.lora_id) if follower else None
    return started_text(result.submitted, card)


async def start(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    """Start training (an admin wallet or a credit pays)."""
    services = interaction.client.services
    await services.training.order_of(order_id, interaction.user.id)  # refuse strangers first
    await interaction.response.edit_message(
        content="Preparing the images and submitting to fal.ai… (this can take a minute)",
        embeds=[],
        view=None,
    )
    try:
        result = await services.checkout.settle(
            order_id, user_id=interaction.user.id, channel_id=_channel_id(interaction)
        )
    except UserFacingError as exc:
        await interaction.edit_original_response(
            content=f"Not submitted: {exc.render(discord_moment)}", embeds=[], view=None
        )
        raise
    await interaction.edit_original_response(content=_told(interaction, result), view=None)


async def paid(interaction: discord.Interaction[LoraBot], order_id: str, tx_hash: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await _settle(interaction, order_id, tx_hash)


async def check_payment(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await _settle(interaction, order_id, None)


async def _settle(
    interaction: discord.Interaction[LoraBot], order_id: str, tx_hash: str | None
) -> None:
    services = interaction.client.services
    result = await services.checkout.settle(
        order_id, tx_hash, user_id=interaction.user.id, channel_id=_channel_id(interaction)
    )
    if isinstance(result, PaymentPending | PaymentPartial):
        view = await preview_view(interaction.client, order_id, "quote", result)
        await interaction.followup.send(seen_text(result), view=view, ephemeral=True)
        return
    await interaction.followup.send(_told(interaction, result), ephemeral=True)


def _told(interaction: discord.Interaction[LoraBot], result: Settlement) -> str:
    if isinstance(result, Started):
        paid = f"{result.payment.message} " if result.payment else ""
        return paid + _started(interaction, result)
    if isinstance(result, Starting):
        return "Payment verified. The training is starting; its progress card follows here."
    if isinstance(result, CreditKept):
        return (
            f"{result.payment.message} This request's training had already started, so the "
            "credit waits: the next /train uses it without paying again."
        )
    if isinstance(result, AlreadyStarted):
        return "This training has already started: its progress card is in the channel."
    return seen_text(result)


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
