"""The public gallery's rules, without Discord: which LoRAs a page holds, its number,
what the navigation can reach, and a LoRA's detail page.

Pages are addressed by a `PageRef` (where the page starts, plus the page number it had
when the link was made), so the state of every button fits in the button itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.services.lora_index import LoraIndex
from bot.services.text import one_line, short_address
from storage import gallery_media, id_handles, loras, wallets
from storage.db import Database
from storage.gallery_media import Batch
from storage.generated_images import GeneratedImage
from storage.keyset import Mode, Window
from storage.loras import Lora, LoraChoice, LoraFilter

WALLET_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# A Components V2 message holds 40 components: five LoRAs of six each plus the controls.
LORAS_PER_PAGE = 5
# Generated images per detail page: two 4-image batches (each batch a line and a gallery).
IMAGES_PER_PAGE = 8
MAX_PAGE = 999_999  # six digits in a custom_id; 5 million LoRAs at five per page


@dataclass(frozen=True, slots=True)
class PageRef:
    """Where a page starts. `page` is the number the page had when this ref was made
    (keyset pages have no number of their own); `anchor` is a row id for OLDER/NEWER."""

    mode: Mode = Mode.FIRST
    page: int = 1
    anchor: str | None = None


@dataclass(frozen=True, slots=True)
class Navigation:
    first: PageRef | None  # None: already there (the button is disabled)
    previous: PageRef | None
    next: PageRef | None
    last: PageRef | None


@dataclass(frozen=True, slots=True)
class Paging:
    page: int
    pages: int
    total: int
    ref: PageRef  # reproduces this page (refresh, retry)
    navigation: Navigation


@dataclass(frozen=True, slots=True)
class GalleryPage:
    filters: LoraFilter
    loras: tuple[Lora, ...]
    paging: Paging
    # LoRA id -> its newest generated image (the thumbnail; else a training image)
    generated: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.loras


@dataclass(frozen=True, slots=True)
class LoraDetail:
    lora: Lora
    images: tuple[GeneratedImage, ...]
    paging: Paging
    batches: tuple[Batch, ...] = ()  # `images` grouped by the batch they were made in


def choice_label(choice: LoraChoice) -> str:
    """What every LoRA picker shows (/lora's and /generate's autocompletes): "trigger
    word · N steps · 0x1234…abcd", one line; the face cuts it to its own limit."""
    parts = [one_line(choice.trigger_word) or "(no trigger word)"]
    if choice.steps is not None:
        parts.append(f"{choice.steps:,} steps")
    if normalise_wallet(choice.wallet_address) is not None:
        parts.append(short_address(choice.wallet_address))
    return " · ".join(parts)


def normalise_wallet(text: str) -> str | None:
    """`0x…` with 40 hex digits, lower-cased; None if `text` is no address."""
    text = text.strip()
    return text.lower() if WALLET_ADDRESS.fullmatch(text) else None


def paging_for(
    window: Window[Any], ref: PageRef, size: int, first_id: str | None, last_id: str | None
) -> Paging:
    """Page number and navigation for a window read for `ref`."""
    pages = max(1, -(-window.total // size))
    mode = window.mode
    if mode is Mode.FIRST:
        page = 1
    elif mode is Mode.LAST:
        page = pages
    else:
        page = min(max(ref.page, 1), MAX_PAGE)
    if not window.has_newer:
        page = 1
    elif page < 2:
        page = 2
    if not window.has_older:
        pages = page
    pages = max(pages, page + (1 if window.has_older else 0))
    navigation = Navigation(
        first=PageRef(Mode.FIRST, 1) if window.has_newer else None,
        previous=(
            PageRef(Mode.NEWER, page - 1, first_id)
            if window.has_newer and first_id is not None
            else None
        ),
        next=(
            PageRef(Mode.OLDER, min(page + 1, MAX_PAGE), last_id)
            if window.has_older and last_id is not None
            else None
        ),
        last=PageRef(Mode.LAST, pages) if window.has_older else None,
    )
    served = ref if mode is ref.mode else PageRef(mode, page, None)
    return Paging(page, pages, window.total, served, navigation)


@dataclass
class _CountCache:
    """Recent totals per filter: "page x of y" without a COUNT(*) on every click.
    A total can lag behind new LoRAs by `ttl` seconds; the pages themselves never do."""

    ttl: float
    clock: Callable[[], float]
    limit: int = 512
    entries: dict[LoraFilter, tuple[float, int]] = field(default_factory=dict)

    def get(self, key: LoraFilter) -> int | None:
        entry = self.entries.get(key)
        if entry is None or self.clock() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: LoraFilter, total: int) -> None:
        self.entries.pop(key, None)
        if len(self.entries) >= self.limit:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (self.clock(), total)


class Gallery:
    def __init__(
        self,
        db: Database,
        *,
        page_size: int = LORAS_PER_PAGE,
        images_per_page: int = IMAGES_PER_PAGE,
        count_ttl: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        index: LoraIndex | None = None,
    ) -> None:
        if page_size < 1 or images_per_page < 1:
            raise ValueError("page sizes must be positive")
        self.db = db
        # Autocomplete from memory (Discord cannot wait for it; see `lora_index`); without
        # one, suggestions are asked of the database.
        self.index = index
        self.page_size = page_size
        self.images_per_page = images_per_page
        self._counts = _CountCache(count_ttl, clock)

    async def page(
        self, filters: LoraFilter, ref: PageRef = PageRef(), *, fresh: bool = False
    ) -> GalleryPage:
        """One page of completed LoRAs, newest first. `fresh` recounts the total (a new
        gallery); otherwise a total counted in the last few seconds is reused."""
        known = None if fresh else self._counts.get(filters)
        window, generated = await gallery_media.gallery_page(
            self.db,
            filters,
            mode=ref.mode,
            anchor_id=ref.anchor,
            size=self.page_size,
            total=known,
        )
        if known is None:
            self._counts.put(filters, window.total)
        items = window.items
        paging = paging_for(
            window,
            ref,
            self.page_size,
            items[0].id if items else None,
            items[-1].id if items else None,
        )
        return GalleryPage(filters, items, paging, generated)

    async def detail(self, lora_id: str, ref: PageRef = PageRef()) -> LoraDetail | None:
        """A LoRA and one page of the images generated from it, newest first, grouped
        into their batches."""
        lora, window, batches = await gallery_media.detail_page(
            self.db, lora_id, mode=ref.mode, anchor_id=ref.anchor, size=self.images_per_page
        )
        if lora is None:
            return None
        items = window.items
        paging = paging_for(
            window,
            ref,
            self.images_per_page,
            items[0].id if items else None,
            items[-1].id if items else None,
        )
        return LoraDetail(lora, items, paging, batches)

    async def find(self, text: str) -> Lora | None:
        """The LoRA a user means by an id or a trigger word."""
        return await loras.find(self.db, text)

    async def suggest(self, text: str, limit: int = 25) -> list[LoraChoice]:
        if self.index is not None:
            return await self.index.suggest(text, limit)
        return await loras.suggest(self.db, text, limit)

    def warm(self) -> None:
        """Start loading what answers suggestions, before anyone types."""
        if self.index is not None:
            self.index.warm()

    async def aclose(self) -> None:
        if self.index is not None:
            await self.index.aclose()

    async def get(self, lora_id: str) -> Lora | None:
        """The LoRA with exactly this id (a button's: never a near match)."""
        return await loras.get(self.db, lora_id)

    async def handles_for(self, row_ids: Sequence[str]) -> dict[str, str]:
        """A short handle for each id (made once per id, kept): what a button carries
        when the id itself is too long for its custom_id."""
        return await id_handles.handles_for(self.db, row_ids)

    async def resolve_handle(self, handle: str) -> str | None:
        """The exact id a handle was made for; None for a handle nobody made."""
        return await id_handles.resolve(self.db, handle)

    async def creator_wallet(self, discord_user_id: int) -> str | None:
        link = await wallets.get_link(self.db, discord_user_id)
        return None if link is None else normalise_wallet(link.wallet_address)
