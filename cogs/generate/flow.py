"""One /generate, from the click to the images in a thread: every entry point (the
slash command, the prompt modal, Retry) ends in `run_generation`.

The bot acknowledges at once, then `ImageGenerator` reserves a quota slot, calls fal
and fetches the images; this module only turns the outcome into messages.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.generation import GenerationFailed, GenerationResult
from bot.services.records import DatabaseError
from cogs.common.errors import report
from cogs.common.id_keys import handles_for, resolve_typed
from cogs.generate import render, views

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
QUEUE_EDIT_INTERVAL = 1.5  # seconds between progress edits (Discord rate limits edits)


def _can_thread(interaction: discord.Interaction[LoraBot]) -> bool:
    channel = interaction.channel
    perms = interaction.app_permissions
    return (
        interaction.guild is not None
        and isinstance(channel, discord.TextChannel)
        and perms.create_public_threads
        and perms.send_messages_in_threads
    )


async def run_generation(
    interaction: discord.Interaction[LoraBot],
    lora_ref: str,
    raw_prompt: str,
    *,
    exact: bool = False,
) -> None:
    """`exact`: `lora_ref` is a row id from a button or modal (see `prepare`)."""
    generator = interaction.client.services.generator
    picked = await resolve_typed(interaction.client.services.gallery, lora_ref)
    if picked is not None:  # autocomplete's `*handle` for a long id
        lora_ref, exact = picked, True
    prepared = await generator.prepare(interaction.user.id, lora_ref, raw_prompt, exact=exact)
    await interaction.response.send_message(
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
    await _deliver(interaction, result)


async def _failed(
    interaction: discord.Interaction[LoraBot], error: Exception, batch_id: str | None
) -> None:
    """The public "Generating…" message goes; the user gets a private why, with Retry
    when trying again can help. Their quota slot was released by the generator."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        log.debug("could not delete the progress message", exc_info=True)
    retry = None
    if batch_id is not None:
        gallery = interaction.client.services.gallery
        retry = views.button_for("retry", batch_id, await handles_for(gallery, [batch_id]))
    await report(interaction, error, retry=retry, prefix="Couldn't generate: ")


async def _deliver(interaction: discord.Interaction[LoraBot], result: GenerationResult) -> None:
    files = render.files(result)
    embed = render.result_embed(result, shown=len(files))
    view = await views.result_view(interaction.client.services.gallery, result)
    original = await interaction.original_response()
    thread: discord.Thread | None = None
    if _can_thread(interaction):
        try:
            thread = await original.create_thread(
                name=render.thread_name(result.prepared), auto_archive_duration=1440
            )
        except discord.HTTPException:
            log.info("could not create a thread, posting in place", exc_info=True)
    if thread is not None:
        try:
            await thread.send(embed=embed, files=files, view=view)
            await interaction.edit_original_response(
                embed=render.progress_embed(
                    result.prepared, f"Done: {len(files)} image(s) in the thread below."
                )
            )
            return
        except discord.HTTPException:
            log.info("could not post in the thread, posting in place", exc_info=True)
            files = render.files(result)  # the failed send consumed the file objects
    await interaction.followup.send(embed=embed, files=files, view=view)
    await interaction.edit_original_response(
        embed=render.progress_embed(result.prepared, f"Done: {len(files)} image(s) below.")
    )
