"""The small pieces of text the gallery's screens share (`page.py`: /loras, `detail.py`:
/lora), and Discord's Components V2 limits.

Every piece of user text (trigger words, prompts, anything read from the shared
database) goes through `cogs.common.text`; every message is measured against Discord's
limits (40 components, 4,000 characters of text) rather than hoped to fit.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import discord

from bot.services.gallery import IMAGES_PER_PAGE, Paging
from bot.services.records import Lora, LoraFilter, read_time, small_variant
from cogs.common.text import (
    basescan_address_url,
    code_block,
    plain,
    safe,
    short_address,
)

COMPONENTS_MAX = 40  # every component of a V2 message, nested ones included
TEXT_MAX = 4000  # characters across all its text displays
MEDIA_ALT_MAX = 1024  # a thumbnail's or gallery item's description
GALLERY_ITEMS_MAX = 10  # images in one media gallery
TRAINING_SHOWN = 4  # training images on a LoRA's detail page
GENERATED_PER_PAGE = IMAGES_PER_PAGE
EMBED_URL_MAX = 2048  # a media URL
BUTTON_URL_MAX = 512
WEIGHTS_SHOWN_MAX = 700
COLOUR = discord.Colour.blurple()
NAME_MAX = 200  # a 100-character trigger word (/train's limit) with every character escaped
_ADDRESS_CHARS = set("0123456789abcdefABCDEF")
_SPACE = re.compile(r"\s")


# --- small pieces -------------------------------------------------------------------------
def web_url(url: str | None, limit: int = EMBED_URL_MAX) -> str | None:
    """`url` if Discord can link to it (http/https with a host, no spaces, short enough)."""
    if not url or len(url) > limit or _SPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def is_address(text: str) -> bool:
    return len(text) == 42 and text[:2] == "0x" and set(text[2:]) <= _ADDRESS_CHARS


def creator_link(address: str) -> str:
    if is_address(address):
        return f"[{short_address(address)}]({basescan_address_url(address)})"
    return safe(address, 60, single_line=True) or "unknown"


def parse_time(text: str) -> int | None:
    """Unix seconds of an ISO 8601 timestamp (UTC when it names no zone)."""
    moment = read_time(text)
    try:
        return None if moment is None else int(moment.timestamp())
    except (OverflowError, OSError):
        return None


def relative(text: str) -> str | None:
    """A stored time as Discord's relative timestamp ("3 hours ago" in each reader's
    locale); an unreadable one as it is, escaped; None when there is none."""
    seconds = parse_time(text)
    if seconds is None:
        return safe(text, 40, single_line=True) or None
    return f"<t:{seconds}:R>"


def thumbnails(lora: Lora, limit: int = TRAINING_SHOWN) -> list[str]:
    """The first `limit` training images that can be shown, as small variants."""
    found: list[str] = []
    for url in lora.image_urls[:64]:
        small = web_url(small_variant(url))
        if small is not None:
            found.append(small)
            if len(found) == limit:
                break
    return found


def steps_text(lora: Lora) -> str:
    return f"{lora.steps:,}" if lora.steps is not None else "unknown"


def weights_text(lora: Lora) -> str:
    if lora.lora_weights_url is None:
        return "**Weights** none recorded for this LoRA: nothing to download."
    return "**Weights** (copy the URL)\n" + code_block(lora.lora_weights_url, WEIGHTS_SHOWN_MAX)


def download_url(lora: Lora) -> str | None:
    return web_url(lora.lora_weights_url, BUTTON_URL_MAX)


def title(lora: Lora) -> str:
    return safe(lora.trigger_word, NAME_MAX, single_line=True) or "(no trigger word)"


def alt_text(text: str) -> str | None:
    """A media description (alt text): plain, one line, within Discord's limit."""
    return plain(text, MEDIA_ALT_MAX) or None


def lora_facts(lora: Lora) -> str:
    """One line: "1,000 steps · 12 training images · <t:…:R> · by [0x1234…abcd](…)"."""
    count = lora.image_count
    parts = [
        f"{steps_text(lora)} steps",
        f"{count:,} training image{'s' if count != 1 else ''}"
        if count is not None
        else "training images unknown",
    ]
    moment = relative(lora.created_at)
    if moment is not None:
        parts.append(moment)
    parts.append(f"by {creator_link(lora.wallet_address)}")
    return " · ".join(parts)


def filters_text(filters: LoraFilter) -> str:
    parts: list[str] = []
    if filters.wallet is not None:
        parts.append(f"by {creator_link(filters.wallet)}")
    if filters.search is not None:
        parts.append(f"trigger word contains “{safe(filters.search, 80, single_line=True)}”")
    return " · ".join(parts)


def gallery_header(paging: Paging, filters: LoraFilter) -> str:
    count = paging.total
    parts = ["**LoRA gallery**", f"{count:,} LoRA{'s' if count != 1 else ''}"]
    if not filters.is_empty:
        parts.append(filters_text(filters))
    return " · ".join(parts)


def nothing_text(filters: LoraFilter) -> str:
    """Why a gallery is empty, as a sentence, and what to do next."""
    if filters.is_empty:
        return (
            "**No LoRAs trained yet.** Be the first: run `/train` with an Are.na channel of "
            "images and a trigger word. Finished LoRAs appear here for everyone, newest first."
        )
    found = "No LoRA"
    if filters.wallet is not None:
        found += f" by {creator_link(filters.wallet)}"
    if filters.search is not None:
        found += f" has a trigger word containing “{safe(filters.search, 80, single_line=True)}”"
    else:
        found += " has been trained yet"
    return (
        f"**No LoRAs match.** {found}. Try another search, or run `/loras` without filters "
        "to see every LoRA."
    )


def not_found_text(what: str) -> str:
    return (
        f"LoRA not found: nothing has the id or trigger word "
        f"“{safe(what, 100, single_line=True)}”. Pick one from the list while typing "
        "`/lora`, or browse the gallery."
    )
