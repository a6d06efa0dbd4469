"""What each /train button does, from the click to the training desk and back.

Module-level functions, each taking a typed interaction: `cogs.training.views` maps a
button's kind to one of them. Paying and starting go through `Checkout.settle`, the
same function the payment page calls (Train again too, paid by the kept credit); the
preview follows it and the progress card is posted by its follower (`preview.py`).
"""

from __future__ import annotations

import contextlib
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
from bot.services.training.desk import TrainingNeedsWallet
from cogs.common.errors import report
from cogs.common.respond import Target, acknowledge
from cogs.common.text import discord_moment
from cogs.training import progress
from cogs.training.preview import PreviewFollower, preview_view, seen_text, started_text
from cogs.wallet.views import LinkWalletButton

if TYPE_CHECKING:
    from bot.app import LoraBot

ALREADY_STARTED = "This training was already started: its progress card shows how it is doing."


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
    """Start training (an admin wallet or a credit pays). Deferred as an update first:
    a stranger's refusal then comes as a private followup and the preview stays as it is."""
    await acknowledge(interaction, Target.EDIT)
    services = interaction.client.services
    await services.training.order_of(order_id, interaction.user.id)  # refuse strangers first
    await interaction.edit_original_response(
        content="Preparing the images and submitting to fal.ai… (this can take a minute)",
        embeds=[],
        view=None,
    )
    follower = _follower(interaction)
    if follower is not None:
        follower.forget(order_id)  # this click's response is the preview: it says the rest
    try:
        result = await services.checkout.settle(
            order_id, user_id=interaction.user.id, channel_id=_channel_id(interaction)
        )
    except UserFacingError as exc:
        await interaction.edit_original_response(
            content=f"Not submitted: {exc.render(discord_moment)}", embeds=[], view=None
        )
        raise
    await _tell(interaction, result)


async def _tell(interaction: discord.Interaction[LoraBot], result: Settlement) -> None:
    """The outcome of a start, in the interaction's own response."""
    if isinstance(result, AlreadyStarted):
        await refuse_with_progress(interaction, result)
        return
    await interaction.edit_original_response(content=_told(interaction, result), view=None)


async def refuse_with_progress(
    interaction: discord.Interaction[LoraBot], refusal: AlreadyStarted
) -> None:
    """The training is under way already: say so, with a link to its card, in the
    interaction's response (every caller has acknowledged already; a privately
    deferred one if not, before the card is looked up)."""
    from cogs.training.views import view_of

    await acknowledge(interaction, Target.PRIVATE)
    place = None
    if refusal.lora_id is not None:
        place = await interaction.client.services.training.card_place(refusal.lora_id)
    view = None
    if place is not None:
        guild = progress.card_guild(interaction.client, place, interaction.guild_id)
        view = view_of(progress.open_progress(progress.card_url(guild, place)))
    await interaction.edit_original_response(content=ALREADY_STARTED, embeds=[], view=view)


async def train_again(interaction: discord.Interaction[LoraBot], lora_id: str) -> None:
    """Retry a failed training with its channel, trigger word and steps: the same
    settlement as /train's Start training, paid by the credit the failure kept."""
    await acknowledge(interaction, Target.PRIVATE)
    try:
        result = await interaction.client.services.checkout.train_again(
            lora_id, interaction.user.id, channel_id=_channel_id(interaction)
        )
    except TrainingNeedsWallet as missing:  # the refusal carries its fix
        await report(interaction, missing, fix=LinkWalletButton())
        return
    except UserFacingError as exc:
        await interaction.edit_original_response(
            content=f"Not submitted: {exc.render(discord_moment)}", embeds=[], view=None
        )
        raise
    await _tell(interaction, result)


async def paid(interaction: discord.Interaction[LoraBot], order_id: str, tx_hash: str) -> None:
    await acknowledge(interaction, Target.PRIVATE)
    await _settle(interaction, order_id, tx_hash)


async def check_payment(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    await acknowledge(interaction, Target.PRIVATE)
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
    if isinstance(result, AlreadyStarted):
        await refuse_with_progress(interaction, result)
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
        return ALREADY_STARTED
    return seen_text(result)


async def drop(interaction: discord.Interaction[LoraBot], order_id: str) -> None:
    """The preview's Cancel: deferred as an update first, like Start training."""
    await acknowledge(interaction, Target.EDIT)
    await interaction.client.services.training.drop(order_id, interaction.user.id)
    await interaction.edit_original_response(
        content="Cancelled. Nothing was charged.", embeds=[], view=None
    )


async def cancel_training(interaction: discord.Interaction[LoraBot], lora_id: str) -> None:
    await acknowledge(interaction, Target.PRIVATE)
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
