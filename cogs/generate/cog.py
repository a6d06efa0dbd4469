"""`/generate`: four images from a finished LoRA, posted in a thread.

The cog acknowledges at once, then lets `ImageGenerator` reserve a quota slot, call
fal and fetch the images; it only turns the outcome into messages.
"""

from __future__ import annotations

import io
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import ServiceUnavailable, UserFacingError, new_ref
from bot.services.generation import GenerationFailed, GenerationResult, ImageGenerator
from cogs.common import errors as error_handler
from cogs.common.text import plain
from cogs.generate import views as V
from storage.db import DatabaseError

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
QUEUE_EDIT_INTERVAL = 1.5  # seconds between progress edits (Discord rate limits edits)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def generator_of(bot: LoraBot) -> ImageGenerator:
    if bot.generator is None:
        raise UserFacingError("Image generation is starting up. Try again in a moment.")
    return bot.generator


def _can_thread(interaction: discord.Interaction[Any]) -> bool:
    channel = interaction.channel
    perms = interaction.app_permissions
    return (
        interaction.guild is not None
        and isinstance(channel, discord.TextChannel)
        and perms.create_public_threads
        and perms.send_messages_in_threads
    )


def _files(result: GenerationResult) -> list[discord.File]:
    base = plain(result.prepared.lora.trigger_word, 40).replace(" ", "_") or "image"
    safe_base = "".join(ch for ch in base if ch.isalnum() or ch in "_-") or "image"
    files = []
    for number, image in enumerate(result.images, start=1):
        if image.data is None:
            continue
        ext = _EXTENSIONS.get(image.content_type or "", "jpg")
        files.append(discord.File(io.BytesIO(image.data), filename=f"{safe_base}-{number}.{ext}"))
    return files


class Generate(commands.Cog, name=V.COG_NAME):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*V.DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*V.DYNAMIC_ITEMS)

    @app_commands.command(name="generate", description="Four images from a finished LoRA")
    @app_commands.describe(
        lora="A finished LoRA: type its trigger word", prompt="What to draw (1–500 characters)"
    )
    async def generate(
        self, interaction: discord.Interaction[LoraBot], lora: str, prompt: str
    ) -> None:
        await self.run_generation(interaction, lora, prompt)

    @generate.autocomplete("lora")
    async def lora_choices(
        self, interaction: discord.Interaction[LoraBot], current: str
    ) -> list[app_commands.Choice[str]]:
        from storage import loras

        choices = await loras.suggest(self.bot.db, current[:100], 25)
        return [
            app_commands.Choice(name=plain(c.trigger_word, 100) or c.id[:100], value=c.id[:100])
            for c in choices
        ]

    async def run_generation(
        self, interaction: discord.Interaction[Any], lora_ref: str, raw_prompt: str
    ) -> None:
        """Every entry point ends here: slash command, the prompt modal, Retry."""
        generator = generator_of(self.bot)
        prepared = await generator.prepare(interaction.user.id, lora_ref, raw_prompt)
        await interaction.response.send_message(
            embed=V.progress_embed(prepared, "Queued…"),
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
                    embed=V.progress_embed(prepared, V.queue_text(position))
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
            await self._failed(interaction, failed.cause, failed.batch_id)
            return
        except (UserFacingError, DatabaseError) as exc:  # e.g. the last slot went meanwhile
            await self._failed(interaction, exc, None)
            return
        await self._deliver(interaction, result)

    async def _failed(
        self, interaction: discord.Interaction[Any], error: Exception, batch_id: str | None
    ) -> None:
        """The public "Generating…" message goes; the user gets a private why, with Retry
        when trying again can help. Their quota slot was released by the generator."""
        ref = new_ref()
        message, unexpected = error_handler.describe(error, ref)
        log_call = log.error if unexpected else log.info
        log_call(
            "generation failed",
            extra={"ref": ref, "user_id": str(interaction.user.id)},
            exc_info=error,
        )
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the progress message", exc_info=True)
        retryable = batch_id is not None and isinstance(error, ServiceUnavailable | DatabaseError)
        kwargs: dict[str, Any] = {"view": V.retry_view(batch_id)} if retryable and batch_id else {}
        await interaction.followup.send(f"Couldn't generate: {message}", ephemeral=True, **kwargs)

    async def _deliver(
        self, interaction: discord.Interaction[Any], result: GenerationResult
    ) -> None:
        files = _files(result)
        embed = V.result_embed(result, shown=len(files))
        view = V.result_view(result)
        original = await interaction.original_response()
        thread: discord.Thread | None = None
        if _can_thread(interaction):
            try:
                thread = await original.create_thread(
                    name=V.thread_name(result.prepared), auto_archive_duration=1440
                )
            except discord.HTTPException:
                log.info("could not create a thread, posting in place", exc_info=True)
        if thread is not None:
            try:
                await thread.send(embed=embed, files=files, view=view)
                await interaction.edit_original_response(
                    embed=V.progress_embed(
                        result.prepared, f"Done: {len(files)} image(s) in the thread below."
                    )
                )
                return
            except discord.HTTPException:
                log.info("could not post in the thread, posting in place", exc_info=True)
                files = _files(result)  # the failed send consumed the file objects
        await interaction.followup.send(embed=embed, files=files, view=view)
        await interaction.edit_original_response(
            embed=V.progress_embed(result.prepared, f"Done: {len(files)} image(s) below.")
        )
