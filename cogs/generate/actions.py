"""What a result's Same seed and Delete buttons do (the buttons: `views.GenerateButton`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.generation import BatchRecord
from cogs.generate import flow

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)


async def same_seed(interaction: discord.Interaction[LoraBot], batch: BatchRecord) -> None:
    """The batch's prompt with the seed fal used for it, for whoever presses it (on their
    own wallet and quota). fal-ai/flux-lora takes one `seed` for the whole batch of four,
    so one image cannot be redrawn alone: the same seed redraws the same four."""
    if batch.seed is None:
        raise UserFacingError(
            "No seed was kept for these images, so they can't be redrawn. "
            "Use Generate again for a new batch."
        )
    await flow.run_generation(interaction, batch.lora_id, batch.prompt, exact=True, seed=batch.seed)


async def delete_post(interaction: discord.Interaction[LoraBot], batch: BatchRecord) -> None:
    """Only the requester may delete their result; the images stay in the database (the
    web app shows them and the quota counts them), the jump link to the post goes."""
    if batch.discord_user_id != interaction.user.id:
        raise UserFacingError("Only the person who asked for these images can delete them.")
    message = interaction.message
    if message is None:  # a button always comes with its message
        raise UserFacingError("That post is already gone.")
    try:
        await message.delete()
    except discord.NotFound:
        log.info("result post already deleted", extra={"batch_id": batch.batch_id})
    await interaction.client.services.generator.forget_post(batch.batch_id)
    await interaction.edit_original_response(  # deferred privately by the button
        content="Deleted your images from this channel. They still count toward your "
        "wallet's daily generations."
    )
