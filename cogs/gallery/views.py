"""The gallery's buttons and menu: `DynamicItem`s whose whole state is their custom_id,
so they work after a restart and after hours (registered once, in the cog's `cog_load`;
their formats are in `cogs.gallery.ids`).

The person a message belongs to moves it in place; anyone else gets a private copy of
the page they asked for (see `cogs.common.respond`). Errors go through the one error
handler, with a Retry button when trying again can help.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.services.gallery import Gallery, GalleryPage, LoraDetail, PageRef, Paging
from bot.services.records import Lora, LoraFilter, Mode
from cogs.common.id_keys import NO_HANDLES, handles_for, read_handles, resolve_typed
from cogs.common.interactions import BotItem
from cogs.common.respond import Rendered, Target, deliver, target_for
from cogs.common.text import plain, short_address
from cogs.gallery import ids
from cogs.gallery import render as E
from cogs.generate.ids import generate_id

if TYPE_CHECKING:
    from bot.app import LoraBot

Button = discord.ui.Button[discord.ui.View]
Select = discord.ui.Select[discord.ui.View]


class StaleButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "That button isn't one I can use (it may come from an old or altered message). "
            "Run `/loras` to open the gallery again."
        )


def _button(
    custom_id: str,
    label: str,
    *,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    disabled: bool = False,
    row: int | None = None,
) -> Button:
    return discord.ui.Button(
        custom_id=custom_id, label=label, style=style, disabled=disabled, row=row
    )


# --- the dynamic items ---------------------------------------------------------------------
class GalleryButton(
    BotItem,
    discord.ui.DynamicItem[Button],
    template=re.compile(re.escape(ids.GALLERY_PREFIX) + r"(?P<state>.*)", re.DOTALL),
):
    def __init__(self, button: Button) -> None:
        super().__init__(button)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> GalleryButton:
        return cls(_button(match.string, "Retry"))

    def retry_button(self) -> GalleryButton:
        return GalleryButton(_button(self.custom_id, "Retry", style=discord.ButtonStyle.primary))

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
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
    """Opens the chosen LoRA's detail page, privately, leaving the gallery where it is."""

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
        return DetailButton(_button(retry_id, "Retry")) if retry_id else None

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
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
    def __init__(self, button: Button) -> None:
        super().__init__(button)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> DetailButton:
        return cls(_button(match.string, "Retry"))

    def retry_button(self) -> DetailButton:
        return DetailButton(_button(self.custom_id, "Retry", style=discord.ButtonStyle.primary))

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
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
        public = state.action == ids.NEW_MESSAGE
        target = Target.PUBLIC if public else target_for(interaction)
        await deliver(interaction, render_detail(gallery, state.lora_id, state.ref), target)


# The Generate button (`cogs.generate.ids`) is handled by the /generate feature.
DYNAMIC_ITEMS = (GalleryButton, GallerySelect, DetailButton)


# --- views ---------------------------------------------------------------------------------
def _navigation(
    paging: Paging,
    first_id: str | None,
    last_id: str | None,
    make_id: Callable[[PageRef, str | None], str | None],
    make_item: Callable[[Button], discord.ui.Item[Any]],
    noun: str,
) -> list[discord.ui.Item[Any]]:
    """First, previous, "page x of y", next, last: every button has a distinct custom_id, even disabled ones."""
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
        items.append(make_item(_button(custom_id, label, disabled=not enabled, row=0)))
    return items


def gallery_view(page: GalleryPage, handles: Mapping[str, str] = NO_HANDLES) -> discord.ui.View:
    """`handles`: id -> handle for the page's ids too long to carry (`gallery_handles`)."""
    view = discord.ui.View(timeout=None)
    loras = page.loras
    if page.paging.pages > 1:
        for item in _navigation(
            page.paging,
            loras[0].id if loras else None,
            loras[-1].id if loras else None,
            lambda ref, action: ids.gallery_id(ref, page.filters, action=action, handles=handles),
            GalleryButton,
            "Page",
        ):
            view.add_item(item)
    options = [o for o in (_option(lora, handles) for lora in loras) if o is not None]
    if options:
        select: Select = discord.ui.Select(
            custom_id=ids.SELECT_ID, placeholder="Open a LoRA…", options=options, row=1
        )
        view.add_item(GallerySelect(select))
    for lora in loras:
        url = E.download_url(lora)
        if url is not None:
            label = plain(f"Download {lora.trigger_word}", 80)
            view.add_item(discord.ui.Button(label=label, url=url, row=2))
    return view


def _option(lora: Lora, handles: Mapping[str, str]) -> discord.SelectOption | None:
    value = ids.select_value(lora.id, handles)
    if value is None:
        return None
    count = lora.image_count
    details = [
        f"{lora.steps:,} steps" if lora.steps is not None else None,
        f"{count:,} images" if count is not None else None,
        short_address(lora.wallet_address) if E.is_address(lora.wallet_address) else None,
    ]
    return discord.SelectOption(
        label=plain(lora.trigger_word, 100) or "(no trigger word)",
        value=value,
        description=plain(" · ".join(d for d in details if d), 100) or None,
    )


def detail_view(detail: LoraDetail, handles: Mapping[str, str] = NO_HANDLES) -> discord.ui.View:
    """`handles`: id -> handle for the page's ids too long to carry (`detail_handles`)."""
    view = discord.ui.View(timeout=None)
    lora, images = detail.lora, detail.images
    if detail.paging.pages > 1:
        for item in _navigation(
            detail.paging,
            images[0].id if images else None,
            images[-1].id if images else None,
            lambda ref, action: ids.detail_id(lora.id, ref, action=action, handles=handles),
            DetailButton,
            "Images page",
        ):
            view.add_item(item)
    generate = generate_id(lora.id, handles)
    if generate is not None:
        ready = lora.status == "completed" and lora.lora_weights_url is not None
        button = _button(
            generate, "Generate", style=discord.ButtonStyle.primary, disabled=not ready, row=1
        )
        view.add_item(button)
    url = E.download_url(lora)
    if url is not None:
        view.add_item(discord.ui.Button(label="Download weights", url=url, row=1))
    view.add_item(browse_button(row=1))
    return view


def browse_button(*, row: int | None = None, label: str = "All LoRAs") -> GalleryButton:
    custom_id = ids.gallery_id(PageRef(), LoraFilter())
    assert custom_id is not None
    return GalleryButton(_button(custom_id, label, row=row))


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


# --- rendering -----------------------------------------------------------------------------
async def render_gallery(
    gallery: Gallery, filters: LoraFilter, ref: PageRef, *, fresh: bool = False
) -> Rendered:
    page = await gallery.page(filters, ref, fresh=fresh)
    if page.is_empty:
        view = None if filters.is_empty else _view(browse_button(label="Show all LoRAs"))
        return Rendered(None, [E.empty_gallery_embed(filters)], view)
    handles = await handles_for(gallery, gallery_ids(page))
    return Rendered(E.gallery_header(page), E.gallery_embeds(page), gallery_view(page, handles))


def gallery_ids(page: GalleryPage) -> list[str]:
    """The ids a gallery page's view carries (its LoRAs: anchors and menu values)."""
    return [lora.id for lora in page.loras]


def detail_ids(detail: LoraDetail) -> list[str]:
    """The ids a detail page's view carries: the LoRA and its images' anchors."""
    images = detail.images
    return [detail.lora.id, *((images[0].id, images[-1].id) if images else ())]


def not_found(what: str) -> Rendered:
    return Rendered(
        E.not_found_text(what), [], _view(browse_button(label="Browse the gallery")), private=True
    )


async def render_detail(gallery: Gallery, lora_id: str, ref: PageRef) -> Rendered:
    detail = await gallery.detail(lora_id, ref)
    if detail is None:
        return not_found(lora_id)
    handles = await handles_for(gallery, detail_ids(detail))
    return Rendered(None, E.detail_embeds(detail), detail_view(detail, handles))


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
