"""A LoRA's /lora page in Components V2: what it is, what it was trained on, its weights,
and one page of what was made with it, batch by batch (each batch a line, "prompt · by
whom · when · its post", then its images in the order they were made), with the page
controls below.

Worst case 33 of Discord's 40 components (8 one-image batches); the text is measured
and the prompts shortened until it fits Discord's 4,000 characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.services.gallery import LoraDetail
from bot.services.records import COMPLETED, Batch, Lora
from cogs.common.id_keys import NO_HANDLES
from cogs.common.text import safe
from cogs.gallery import ids
from cogs.gallery import render as R
from cogs.gallery.items import DetailButton, browse_button, navigation
from cogs.gallery.page import generate_button

PROMPT_LIMITS = (200, 140, 100, 60, 30)  # tried in turn until the page's text fits


def status_line(lora: Lora) -> str | None:
    if lora.status == COMPLETED:
        return None
    if lora.status == "pending":
        return "**Status** still training: the weights are not ready yet."
    if lora.status == "failed":
        return "**Status** this training failed; there are no weights."
    return f"**Status** {safe(lora.status, 40, single_line=True)}"


def weights_text(lora: Lora) -> str:
    if lora.lora_weights_url is None:
        return "**Weights** none recorded for this LoRA: nothing to download."
    text = R.weights_text(lora)
    if R.download_url(lora) is None:
        text += "\n(No Download button: this URL is too long or not a web link. Copy it.)"
    return text


def who(batch: Batch) -> str:
    # A mention renders the member's name; the bot sends no mention pings (allowed_mentions).
    if batch.discord_user_id is not None and batch.discord_user_id.isdigit():
        return f"<@{batch.discord_user_id}>"
    return R.creator_link(batch.wallet_address)


def batch_line(batch: Batch, prompt_limit: int) -> str:
    parts = [
        safe(batch.prompt, prompt_limit, single_line=True) or "(no prompt)",
        f"by {who(batch)}",
    ]
    moment = R.relative(batch.created_at)
    if moment is not None:
        parts.append(moment)
    if batch.post is not None:
        parts.append(f"[thread post]({batch.post.jump_url})")
    numbers = [n.number for n in batch.images]
    if numbers and (numbers[0] != 1 or numbers[-1] != batch.size or len(numbers) != batch.size):
        shown = f"{numbers[0]}" if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"
        parts.append(f"images {shown} of {batch.size}")  # the rest is on another page
    return " · ".join(parts)


def batch_gallery(batch: Batch) -> discord.ui.MediaGallery[Any] | None:
    items = [
        discord.MediaGalleryItem(
            url,
            description=R.alt_text(f"{n.number} of {batch.size}: {batch.prompt}"),
        )
        for n in batch.images
        if (url := R.web_url(n.image.image_url)) is not None
    ][: R.GALLERY_ITEMS_MAX]
    return discord.ui.MediaGallery[Any](*items) if items else None


def generated_header(detail: LoraDetail) -> str:
    paging, count = detail.paging, len(detail.images)
    if not count:
        return "**Generated images** none yet. Press Generate to make the first ones."
    first = (paging.page - 1) * R.GENERATED_PER_PAGE + 1
    return f"**Generated images** {first:,}–{first + count - 1:,} of {paging.total:,}, newest first"


def _head(detail: LoraDetail, handles: Mapping[str, str]) -> list[discord.ui.Item[Any]]:
    lora = detail.lora
    lines = [f"## {R.title(lora)}", R.lora_facts(lora)]
    status = status_line(lora)
    if status:
        lines.append(status)
    items: list[discord.ui.Item[Any]] = [discord.ui.TextDisplay[Any]("\n".join(lines))]
    training = [
        discord.MediaGalleryItem(url, description="Training image")
        for url in R.thumbnails(lora, R.TRAINING_SHOWN)
    ]
    if training:
        items.append(discord.ui.MediaGallery[Any](*training))
    items.append(discord.ui.TextDisplay[Any](weights_text(lora)))
    actions: list[discord.ui.Item[Any]] = []
    generate = generate_button(lora, handles)
    if generate is not None:
        actions.append(generate)
    download = R.download_url(lora)
    if download is not None:
        actions.append(discord.ui.Button[Any](label="Download weights", url=download))
    actions.append(browse_button())
    items.append(discord.ui.ActionRow[Any](*actions))
    return items


def _text_length(items: list[discord.ui.Item[Any]]) -> int:
    return sum(len(i.content) for i in items if isinstance(i, discord.ui.TextDisplay))


def detail_layout(
    detail: LoraDetail, handles: Mapping[str, str] = NO_HANDLES
) -> discord.ui.LayoutView:
    """`handles`: id -> handle for the page's ids too long to carry (`detail_ids`)."""
    lora, images = detail.lora, detail.images
    fixed = [
        *_head(detail, handles),
        discord.ui.Separator[Any](),
        discord.ui.TextDisplay[Any](generated_header(detail)),
    ]
    budget = R.TEXT_MAX - _text_length(fixed)
    lines: list[str] = []
    for limit in PROMPT_LIMITS:
        lines = [batch_line(batch, limit) for batch in detail.batches]
        if sum(len(line) for line in lines) <= budget:
            break
    view = discord.ui.LayoutView(timeout=None)
    container = discord.ui.Container[Any](accent_colour=R.COLOUR)
    for item in fixed:
        container.add_item(item)
    for batch, line in zip(detail.batches, lines, strict=True):
        container.add_item(discord.ui.TextDisplay[Any](line))
        pictures = batch_gallery(batch)
        if pictures is not None:
            container.add_item(pictures)
    view.add_item(container)
    if detail.paging.pages > 1:
        controls = navigation(
            detail.paging,
            images[0].id if images else None,
            images[-1].id if images else None,
            lambda ref, action: ids.detail_id(lora.id, ref, action=action, handles=handles),
            DetailButton,
            "Images page",
        )
        if controls:
            view.add_item(discord.ui.ActionRow[Any](*controls))
    return view
