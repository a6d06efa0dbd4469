"""The result post of one /generate: the images, who asked, and their buttons; and where
it went (a new thread, the thread it was asked from, or in place)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.services.gallery import Gallery
from bot.services.generation import GenerationResult
from bot.services.records import DatabaseError
from cogs.common.id_keys import handles_for
from cogs.generate import ids, render, views

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
NO_PINGS = discord.AllowedMentions.none()


def _can_thread(interaction: discord.Interaction[LoraBot]) -> bool:
    """A new thread only from a text channel; asked inside a thread (Generate again,
    Same seed on a result there), the result stays in that thread."""
    channel = interaction.channel
    perms = interaction.app_permissions
    return (
        interaction.guild is not None
        and isinstance(channel, discord.TextChannel)
        and perms.create_public_threads
        and perms.send_messages_in_threads
    )


async def result_view(
    gallery: Gallery, result: GenerationResult, full_size: Sequence[tuple[str, str]] = ()
) -> discord.ui.View:
    """`full_size`: (number, URL) of each posted image, once Discord has stored them."""
    lora_id = result.prepared.lora.id
    handles = await handles_for(gallery, (result.batch_id, lora_id))
    view = discord.ui.View(timeout=None)
    for number, url in full_size[:5]:
        view.add_item(discord.ui.Button(label=f"{number} · full size", url=url, row=0))
    kinds: list[ids.Kind] = ["again", "lora", "del"]
    if result.images and result.seed is not None:  # a seed kept with stored images
        kinds.insert(0, "seed")
    for kind in kinds:
        item = views.button_for(kind, result.batch_id if kind != "lora" else lora_id, handles)
        if item is not None:
            item.row = 1
            view.add_item(item)
    return view


async def deliver(interaction: discord.Interaction[LoraBot], result: GenerationResult) -> None:
    files = render.files(result)
    content = render.requester_line(result.prepared.user_id)
    embed = render.result_embed(result, shown=len(files))
    gallery = interaction.client.services.gallery
    view = await result_view(gallery, result)
    original = await interaction.original_response()
    posted: discord.Message | None = None
    done = ""
    if _can_thread(interaction):
        try:
            thread = await original.create_thread(
                name=render.thread_name(result.prepared), auto_archive_duration=1440
            )
            posted = await thread.send(
                content, embed=embed, files=files, view=view, allowed_mentions=NO_PINGS
            )
            done = f"Done: {len(files)} image(s) in the thread below."
        except discord.HTTPException:
            log.info("could not post in a new thread, posting in place", exc_info=True)
            files = render.files(result)  # a failed send consumed the file objects
    if posted is None:
        posted = await interaction.followup.send(
            content, embed=embed, files=files, view=view, allowed_mentions=NO_PINGS, wait=True
        )
        done = f"Done: {len(files)} image(s) below."
    await interaction.edit_original_response(embed=render.progress_embed(result.prepared, done))
    await _finish(interaction, result, posted)


async def _finish(
    interaction: discord.Interaction[LoraBot], result: GenerationResult, posted: discord.Message
) -> None:
    """Record where the batch went, then add the full-size links (Discord's copies, known
    once posted). Neither may undo a delivered result."""
    try:
        await interaction.client.services.generator.record_post(
            result.batch_id,
            guild_id=interaction.guild_id,
            channel_id=posted.channel.id,
            message_id=posted.id,
        )
    except DatabaseError:
        log.warning("could not record where a batch was posted", exc_info=True)
    numbers = render.image_numbers(result)
    links = [(n, a.url) for n, a in zip(numbers, posted.attachments, strict=False)]
    try:
        if links:
            view = await result_view(interaction.client.services.gallery, result, links)
            await posted.edit(view=view, allowed_mentions=NO_PINGS)
    except discord.HTTPException:
        log.info("could not add the full-size links", exc_info=True)
