"""One /generate, from the click to the images in a thread: every entry point (the
slash command, the prompt modal, Retry, Same seed) ends in `run_generation`.

The bot acknowledges at once (a public "thinking…" that becomes the progress message),
before any database work; then `ImageGenerator` checks the wallet, the LoRA and the
quota, calls fal and fetches the images; this module only turns the outcome into
messages. A refusal removes the public message and is told privately.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.generation import GenerationFailed, WalletRequired
from bot.services.records import DatabaseError
from cogs.common import respond
from cogs.common.errors import report
from cogs.common.id_keys import handles_for, resolve_typed
from cogs.generate import render, views
from cogs.generate import result as result_post
from cogs.wallet.views import LinkWalletButton

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
QUEUE_EDIT_INTERVAL = 1.5  # seconds between progress edits (Discord rate limits edits)


async def run_generation(
    interaction: discord.Interaction[LoraBot],
    lora_ref: str,
    raw_prompt: str,
    *,
    exact: bool = False,
    seed: str | None = None,
) -> None:
    """`exact`: `lora_ref` is a row id from a button or modal (see `prepare`).
    `seed`: the stored seed of a batch to draw again (Same seed)."""
    generator = interaction.client.services.generator
    if not interaction.response.is_done():
        generator.check_request(raw_prompt, seed)  # a bad prompt is told at once, privately
    await acknowledge(interaction)
    try:
        picked = await resolve_typed(interaction.client.services.gallery, lora_ref)
        if picked is not None:  # autocomplete's `*handle` for a long id
            lora_ref, exact = picked, True
        prepared = await generator.prepare(
            interaction.user.id, lora_ref, raw_prompt, exact=exact, seed=seed
        )
    except WalletRequired as missing:  # the refusal carries its fix
        await drop_progress(interaction)
        await report(interaction, missing, fix=LinkWalletButton())
        return
    except Exception:  # told privately by the error handler
        await drop_progress(interaction)
        raise
    await interaction.edit_original_response(
        embed=render.progress_embed(prepared, "Queued…"),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    last_edit = 0.0

    async def on_queue(position: int | None) -> None:
        nonlocal last_edit
        if time.monotonic() - last_edit < QUEUE_EDIT_INTERVAL:
            return
        last_edit = time.monotonic()
        try:
            await interaction.edit_original_response(
                embed=render.progress_embed(prepared, render.queue_text(position))
            )
        except discord.HTTPException:
            log.debug("progress edit failed", exc_info=True)

    try:
        result = await generator.run(
            prepared,
            on_queue=on_queue,
            # Discord's per-file limit for this channel (10 MiB by default).
            max_image_bytes=interaction.filesize_limit,
        )
    except GenerationFailed as failed:
        await _failed(interaction, failed.cause, failed.batch_id)
        return
    except (UserFacingError, DatabaseError) as exc:  # e.g. the last slot went meanwhile
        await _failed(interaction, exc, None)
        return
    await result_post.deliver(interaction, result)


async def acknowledge(interaction: discord.Interaction[LoraBot]) -> None:
    """The public "thinking…" that becomes the progress message (once per interaction:
    a button may have acknowledged before reading its batch)."""
    await respond.acknowledge(interaction, respond.Target.PUBLIC)


async def drop_progress(interaction: discord.Interaction[LoraBot]) -> None:
    """Remove the public "thinking…": a refusal is private (a followup)."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        log.debug("could not delete the progress message", exc_info=True)


async def _failed(
    interaction: discord.Interaction[LoraBot], error: Exception, batch_id: str | None
) -> None:
    """The public "Generating…" message goes; the user gets a private why, with Retry
    when trying again can help. Their quota slot was released by the generator."""
    await drop_progress(interaction)
    retry = None
    if batch_id is not None:
        gallery = interaction.client.services.gallery
        retry = views.button_for("retry", batch_id, await handles_for(gallery, [batch_id]))
    await report(interaction, error, retry=retry, prefix="Couldn't generate: ")
