"""A /loras page in Components V2: one container of compact LoRA cards, the page
controls below it.

Each card is a section (name and facts beside a thumbnail: the LoRA's newest generated
image, else its first training image) and a row with Open and Generate: 6 components,
so 5 cards, the header, the container and the controls' row of 5 take 38 of Discord's 40;
the "Open a LoRA…" menu (a row and its menu) comes last when it still fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.services.gallery import GalleryPage, PageRef
from bot.services.records import Lora, LoraFilter
from cogs.common.id_keys import NO_HANDLES
from cogs.common.text import plain, short_address
from cogs.gallery import ids
from cogs.gallery import render as R
from cogs.gallery.items import (
    DetailButton,
    GalleryButton,
    GallerySelect,
    browse_button,
    button,
    navigation,
)
from cogs.generate.ids import generate_id

MENU_COMPONENTS = 2  # its row and the menu


def thumbnail_url(lora: Lora, generated: Mapping[str, str]) -> str | None:
    """What the LoRA makes when anything was made with it, else what it was trained on."""
    made = R.web_url(generated.get(lora.id))
    if made is not None:
        return made
    training = R.thumbnails(lora, 1)
    return training[0] if training else None


def generate_button(lora: Lora, handles: Mapping[str, str]) -> discord.ui.Button[Any] | None:
    """The /generate feature's persistent Generate (it asks for a prompt)."""
    custom_id = generate_id(lora.id, handles)
    if custom_id is None:
        return None
    ready = lora.status == "completed" and lora.lora_weights_url is not None
    return button(custom_id, "Generate", style=discord.ButtonStyle.primary, disabled=not ready)


def card(
    lora: Lora, generated: Mapping[str, str], handles: Mapping[str, str]
) -> list[discord.ui.Item[Any]]:
    text = discord.ui.TextDisplay[Any](f"**{R.title(lora)}**\n{R.lora_facts(lora)}")
    url = thumbnail_url(lora, generated)
    head: discord.ui.Item[Any] = (
        discord.ui.Section[Any](
            text,
            accessory=discord.ui.Thumbnail[Any](url, description=R.alt_text(lora.trigger_word)),
        )
        if url is not None
        else text
    )
    actions: list[discord.ui.Item[Any]] = []
    open_id = ids.detail_id(lora.id, PageRef(), action=ids.OPEN_PRIVATELY, handles=handles)
    if open_id is not None:
        actions.append(DetailButton(button(open_id, "Open")))
    generate = generate_button(lora, handles)
    if generate is not None:
        actions.append(generate)
    return [head, discord.ui.ActionRow[Any](*actions)] if actions else [head]


def gallery_layout(
    page: GalleryPage, handles: Mapping[str, str] = NO_HANDLES
) -> discord.ui.LayoutView:
    """`handles`: id -> handle for the page's ids too long to carry (`gallery_ids`)."""
    view = discord.ui.LayoutView(timeout=None)
    container = discord.ui.Container[Any](accent_colour=R.COLOUR)
    container.add_item(discord.ui.TextDisplay[Any](R.gallery_header(page.paging, page.filters)))
    for lora in page.loras:
        for item in card(lora, page.generated, handles):
            container.add_item(item)
    view.add_item(container)
    loras = page.loras
    if page.paging.pages > 1:
        controls = navigation(
            page.paging,
            loras[0].id if loras else None,
            loras[-1].id if loras else None,
            lambda ref, action: ids.gallery_id(ref, page.filters, action=action, handles=handles),
            GalleryButton,
            "Page",
        )
        if controls:
            view.add_item(discord.ui.ActionRow[Any](*controls))
    menu = open_menu(loras, handles)
    if menu is not None and view.total_children_count + MENU_COMPONENTS <= R.COMPONENTS_MAX:
        view.add_item(discord.ui.ActionRow[Any](menu))
    return view


def _option(lora: Lora, handles: Mapping[str, str]) -> discord.SelectOption | None:
    value = ids.select_value(lora.id, handles)
    if value is None:
        return None
    count = lora.image_count
    details = [
        f"{lora.steps:,} steps" if lora.steps is not None else None,
        f"{count:,} training images" if count is not None else None,
        short_address(lora.wallet_address) if R.is_address(lora.wallet_address) else None,
    ]
    return discord.SelectOption(
        label=plain(lora.trigger_word, 100) or "(no trigger word)",
        value=value,
        description=plain(" · ".join(d for d in details if d), 100) or None,
    )


def open_menu(loras: tuple[Lora, ...], handles: Mapping[str, str]) -> GallerySelect | None:
    """ "Open a LoRA…": the page's LoRAs by name (opens one privately, like Open)."""
    options = [o for o in (_option(lora, handles) for lora in loras) if o is not None]
    if not options:
        return None
    select: discord.ui.Select[Any] = discord.ui.Select(
        custom_id=ids.SELECT_ID, placeholder="Open a LoRA…", options=options
    )
    return GallerySelect(select)


def empty_layout(filters: LoraFilter) -> discord.ui.LayoutView:
    """Nothing to show: the sentence, and the way back to every LoRA when filtered."""
    view = discord.ui.LayoutView(timeout=None)
    container = discord.ui.Container[Any](accent_colour=R.COLOUR)
    container.add_item(discord.ui.TextDisplay[Any](R.nothing_text(filters)))
    if not filters.is_empty:
        container.add_item(discord.ui.ActionRow[Any](browse_button("Show all LoRAs")))
    view.add_item(container)
    return view
