"""The gallery's buttons and menu: `DynamicItem`s whose whole state is their custom_id,
so they work after a restart and after hours (registered once, in the cog's `cog_load`;
their formats are in `cogs.gallery.ids`).

The person a message belongs to moves it in place; anyone else gets a private copy of
the page they asked for (see `cogs.common.respond`); a card's Open always answers
privately. Errors go through the one error handler, with a Retry button when trying
again can help.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.services.gallery import PageRef, Paging
from bot.services.records import LoraFilter, Mode
from cogs.common.id_keys import read_handles
from cogs.common.interactions import BotItem
from cogs.common.respond import Target, deliver, target_for
from cogs.gallery import ids

if TYPE_CHECKING:
    from bot.app import LoraBot

Button = discord.ui.Button[Any]
Select = discord.ui.Select[Any]


class StaleButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "That button isn't one I can use (it may come from an old or altered message). "
            "Run `/loras` to open the gallery again."
        )


def button(
    custom_id: str,
    label: str,
    *,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    disabled: bool = False,
) -> Button:
    return discord.ui.Button(custom_id=custom_id, label=label, style=style, disabled=disabled)


class GalleryButton(
    BotItem,
    discord.ui.DynamicItem[Button],
    template=re.compile(re.escape(ids.GALLERY_PREFIX) + r"(?P<state>.*)", re.DOTALL),
):
    def __init__(self, item: Button) -> None:
        super().__init__(item)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> GalleryButton:
        return cls(button(match.string, "Retry"))

    def retry_button(self) -> GalleryButton:
        return GalleryButton(button(self.custom_id, "Retry", style=discord.ButtonStyle.primary))

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        from cogs.gallery.views import render_gallery  # the screens are made of these items

        gallery = interaction.client.services.gallery
        try:
            state = ids.parse_gallery_id(
                self.custom_id, await read_handles(gallery, self.custom_id)
            )
        except ids.InvalidCustomId:
            raise StaleButton() from None
        if state.action == ids.PAGE_NUMBER:
            await interaction.response.send_message(
                "That's the page number. Use the arrows beside it to move.", ephemeral=True
            )
            return
        public = state.action == ids.NEW_MESSAGE
        target = Target.PUBLIC if public else target_for(interaction)
        await deliver(
            interaction, render_gallery(gallery, state.filters, state.ref, fresh=public), target
        )


class GallerySelect(
    BotItem, discord.ui.DynamicItem[Select], template=re.compile(re.escape(ids.SELECT_ID))
):
    """Opens the chosen LoRA's detail page, privately, leaving the gallery where it is
    (the menu of gallery messages sent before each card had its own Open button)."""

    def __init__(self, select: Select) -> None:
        super().__init__(select)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> GallerySelect:
        return cls(discord.ui.Select(custom_id=ids.SELECT_ID))

    def _chosen(self) -> str:
        values = list(self.item.values)
        return values[0] if len(values) == 1 else ""

    def retry_button(self) -> DetailButton | None:
        retry_id = ids.select_retry_id(self._chosen())
        return DetailButton(button(retry_id, "Retry")) if retry_id else None

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        from cogs.gallery.views import render_detail

        gallery = interaction.client.services.gallery
        value = self._chosen()
        try:
            lora_id = ids.parse_select_value(value, await read_handles(gallery, value))
        except ids.InvalidCustomId:
            raise StaleButton() from None
        await deliver(interaction, render_detail(gallery, lora_id, PageRef()), Target.PRIVATE)


class DetailButton(
    BotItem,
    discord.ui.DynamicItem[Button],
    template=re.compile(re.escape(ids.DETAIL_PREFIX) + r"(?P<state>.*)", re.DOTALL),
):
    def __init__(self, item: Button) -> None:
        super().__init__(item)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> DetailButton:
        return cls(button(match.string, "Retry"))

    def retry_button(self) -> DetailButton:
        return DetailButton(button(self.custom_id, "Retry", style=discord.ButtonStyle.primary))

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        from cogs.gallery.views import render_detail

        gallery = interaction.client.services.gallery
        try:
            state = ids.parse_detail_id(self.custom_id, await read_handles(gallery, self.custom_id))
        except ids.InvalidCustomId:
            raise StaleButton() from None
        if state.action == ids.PAGE_NUMBER:
            await interaction.response.send_message(
                "That's the page of generated images. Use the arrows beside it to move.",
                ephemeral=True,
            )
            return
        if state.action == ids.NEW_MESSAGE:
            target = Target.PUBLIC
        elif state.action == ids.OPEN_PRIVATELY:
            target = Target.PRIVATE
        else:
            target = target_for(interaction)
        await deliver(interaction, render_detail(gallery, state.lora_id, state.ref), target)


# The Generate button (`cogs.generate.ids`) is handled by the /generate feature.
DYNAMIC_ITEMS = (GalleryButton, GallerySelect, DetailButton)


def navigation(
    paging: Paging,
    first_id: str | None,
    last_id: str | None,
    make_id: Callable[[PageRef, str | None], str | None],
    make_item: Callable[[Button], discord.ui.Item[Any]],
    noun: str,
) -> list[discord.ui.Item[Any]]:
    """First, previous, "page x of y", next, last: every button has a distinct custom_id,
    even disabled ones."""
    nav = paging.navigation
    page = paging.page
    specs: list[tuple[str, PageRef, bool, str | None]] = [
        ("« First", nav.first or PageRef(Mode.FIRST, 1), nav.first is not None, None),
        (
            "‹ Previous",
            nav.previous or PageRef(Mode.NEWER, max(page - 1, 1), first_id),
            nav.previous is not None,
            None,
        ),
        (f"{noun} {page:,} of {paging.pages:,}", PageRef(Mode.FIRST, page), False, ids.PAGE_NUMBER),
        (
            "Next ›",
            nav.next or PageRef(Mode.OLDER, page + 1, last_id),
            nav.next is not None,
            None,
        ),
        ("Last »", nav.last or PageRef(Mode.LAST, paging.pages), nav.last is not None, None),
    ]
    items: list[discord.ui.Item[Any]] = []
    for label, ref, enabled, action in specs:
        if ref.mode in (Mode.OLDER, Mode.NEWER) and ref.anchor is None:
            continue
        custom_id = make_id(ref, action)
        if custom_id is None:
            continue  # an id the bot makes no buttons for (over `id_keys.ID_MAX`)
        items.append(make_item(button(custom_id, label, disabled=not enabled)))
    return items


def browse_button(label: str = "All LoRAs") -> GalleryButton:
    custom_id = ids.gallery_id(PageRef(), LoraFilter())
    assert custom_id is not None
    return GalleryButton(button(custom_id, label))
