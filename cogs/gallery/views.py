"""The gallery's screens, from the service's pages to what `cogs.common.respond`
delivers: /loras pages (`page.py`), /lora pages (`detail.py`), "not found". Every screen
is a Components V2 layout whose buttons are the persistent items of `items.py`.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.services.gallery import Gallery, GalleryPage, LoraDetail, PageRef
from bot.services.records import LoraFilter
from cogs.common.id_keys import handles_for, resolve_typed
from cogs.common.respond import Rendered
from cogs.gallery import render as R
from cogs.gallery.detail import detail_layout
from cogs.gallery.items import (
    DYNAMIC_ITEMS,
    DetailButton,
    GalleryButton,
    GallerySelect,
    StaleButton,
    browse_button,
)
from cogs.gallery.page import empty_layout, gallery_layout

__all__ = [
    "DYNAMIC_ITEMS",
    "DetailButton",
    "GalleryButton",
    "GallerySelect",
    "StaleButton",
    "detail_layout",
    "gallery_layout",
    "render_detail",
    "render_gallery",
    "render_lookup",
]


def _layout(rendered: discord.ui.LayoutView, *, private: bool = False) -> Rendered:
    return Rendered(None, [], rendered, private=private)


async def render_gallery(
    gallery: Gallery, filters: LoraFilter, ref: PageRef, *, fresh: bool = False
) -> Rendered:
    page = await gallery.page(filters, ref, fresh=fresh)
    if page.is_empty:
        # Said only to whoever asked: an empty answer is nothing the channel needs.
        return _layout(empty_layout(filters), private=True)
    handles = await handles_for(gallery, gallery_ids(page))
    return _layout(gallery_layout(page, handles))


def gallery_ids(page: GalleryPage) -> list[str]:
    """The ids a gallery page's buttons carry (its LoRAs: anchors, Open, Generate)."""
    return [lora.id for lora in page.loras]


def detail_ids(detail: LoraDetail) -> list[str]:
    """The ids a detail page's view carries: the LoRA and its images' anchors."""
    images = detail.images
    return [detail.lora.id, *((images[0].id, images[-1].id) if images else ())]


def not_found(what: str) -> Rendered:
    view = discord.ui.LayoutView(timeout=None)
    container = discord.ui.Container[Any](accent_colour=R.COLOUR)
    container.add_item(discord.ui.TextDisplay[Any](R.not_found_text(what)))
    container.add_item(discord.ui.ActionRow[Any](browse_button("Browse the gallery")))
    view.add_item(container)
    return _layout(view, private=True)


async def render_detail(gallery: Gallery, lora_id: str, ref: PageRef) -> Rendered:
    detail = await gallery.detail(lora_id, ref)
    if detail is None:
        return not_found(lora_id)
    handles = await handles_for(gallery, detail_ids(detail))
    return _layout(detail_layout(detail, handles))


async def render_lookup(gallery: Gallery, text: str) -> Rendered:
    """/lora: the LoRA a user typed (id or trigger word, or the `*handle` autocomplete
    gives for a long id), or a private "not found"."""
    exact = await resolve_typed(gallery, text)
    if exact is not None:
        return await render_detail(gallery, exact, PageRef())
    lora = await gallery.find(text)
    if lora is None:
        return not_found(text)
    return await render_detail(gallery, lora.id, PageRef())
