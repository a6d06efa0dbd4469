"""What /generate shows: the progress message, the result and its files."""

from __future__ import annotations

import io

import discord

from bot.services.generation import GenerationResult, Prepared
from cogs.common.text import plain, safe

THREAD_NAME_MAX = 100
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def thread_name(prepared: Prepared) -> str:
    return plain(f"{prepared.lora.trigger_word} · {prepared.prompt}", THREAD_NAME_MAX) or "images"


def requester_line(user_id: int) -> str:
    """Names who asked; sent with no allowed mentions, so it never pings."""
    return f"Asked by <@{user_id}>"


def image_numbers(result: GenerationResult) -> list[str]:
    """The numbers of the images that are attached (as in their file names), in order."""
    return [str(n) for n, image in enumerate(result.images, start=1) if image.data is not None]


def progress_embed(prepared: Prepared, state: str) -> discord.Embed:
    embed = discord.Embed(
        title=f"Generating with {safe(prepared.lora.trigger_word, 200, single_line=True)}",
        description=safe(prepared.prompt, 1000),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=state)
    return embed


def queue_text(position: int | None) -> str:
    if position is None:
        return "Generating… (usually 5–15 seconds)"
    if position == 0:
        return "Next in fal.ai's queue…"
    return f"Waiting in fal.ai's queue: position {position}…"


def result_embed(result: GenerationResult, *, shown: int) -> discord.Embed:
    prepared = result.prepared
    embed = discord.Embed(
        title=safe(prepared.lora.trigger_word, 250, single_line=True),
        description=safe(prepared.prompt, 1500),
        colour=discord.Colour.green(),
    )
    if result.seed is not None:
        embed.add_field(name="Seed", value=f"`{result.seed[:100]}`")
    first = next((i for i in result.images if i.width and i.height), None)
    if first is not None:
        embed.add_field(name="Size", value=f"{first.width}×{first.height}")
    embed.add_field(name="Quota", value=result.quota.describe())
    notes = []
    if result.withheld:
        notes.append(
            f"The safety filter withheld {result.withheld} of 4 images."
            if shown or result.failed_downloads
            else "The safety filter withheld all 4 images. Try another prompt."
        )
    if result.failed_downloads:
        notes.append(
            f"{result.failed_downloads} image(s) could not be fetched from fal.ai; they are "
            "listed on the LoRA's page."
        )
    if notes:
        embed.add_field(name="Note", value=" ".join(notes), inline=False)
    return embed


def files(result: GenerationResult) -> list[discord.File]:
    """The images as attachments (fal's URLs expire; Discord's copy lasts)."""
    base = plain(result.prepared.lora.trigger_word, 40).replace(" ", "_") or "image"
    safe_base = "".join(ch for ch in base if ch.isalnum() or ch in "_-") or "image"
    found = []
    for number, image in enumerate(result.images, start=1):
        if image.data is None:
            continue
        ext = _EXTENSIONS.get(image.content_type or "", "jpg")
        found.append(discord.File(io.BytesIO(image.data), filename=f"{safe_base}-{number}.{ext}"))
    return found
