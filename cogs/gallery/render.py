"""Embeds of the gallery and of a LoRA's detail page.

Every piece of user text (trigger words, prompts, anything read from the shared
database) goes through `cogs.common.text`; every message is measured against Discord's limits
(10 embeds, 6000 characters across them) rather than hoped to fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import discord

from bot.services.gallery import IMAGES_PER_PAGE, LORAS_PER_PAGE, GalleryPage, LoraDetail, Paging
from bot.services.records import (
    COMPLETED,
    GeneratedImage,
    Lora,
    LoraFilter,
    read_time,
    small_variant,
)
from cogs.common.text import (
    basescan_address_url,
    code_block,
    plain,
    safe,
    short_address,
)

MAX_EMBEDS = 10
EMBED_CHARS_MAX = 6000
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
THUMBS_PER_LORA = 4  # up to 4 embeds sharing one url show as one image grid
# The service's page sizes fit these embeds: 2 LoRAs x 4 thumbnails = 8 of 10 embeds.
GENERATED_PER_PAGE = IMAGES_PER_PAGE
assert LORAS_PER_PAGE * THUMBS_PER_LORA <= MAX_EMBEDS
EMBED_URL_MAX = 2048
BUTTON_URL_MAX = 512
WEIGHTS_SHOWN_MAX = 700
COLOUR = discord.Colour.blurple()
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


def when(text: str) -> str:
    seconds = parse_time(text)
    if seconds is None:
        return safe(text, 40, single_line=True) or "unknown"
    return f"<t:{seconds}:R> · <t:{seconds}:f>"


def thumbnails(lora: Lora, limit: int = THUMBS_PER_LORA) -> list[str]:
    """The first `limit` training images that can be shown, as small variants."""
    found: list[str] = []
    for url in lora.image_urls[:64]:
        small = web_url(small_variant(url))
        if small is not None:
            found.append(small)
            if len(found) == limit:
                break
    return found


def image_count_text(lora: Lora, shown: int) -> str:
    count = lora.image_count
    if count is None:
        return "unknown (the stored list is unreadable)"
    more = count - shown
    return f"{count:,}" + (f" ({shown} shown, +{more:,})" if shown and more > 0 else "")


def steps_text(lora: Lora) -> str:
    return f"{lora.steps:,}" if lora.steps is not None else "unknown"


def weights_text(lora: Lora) -> str:
    if lora.lora_weights_url is None:
        return "**Weights** none recorded for this LoRA: nothing to download."
    return "**Weights** (copy the URL)\n" + code_block(lora.lora_weights_url, WEIGHTS_SHOWN_MAX)


def download_url(lora: Lora) -> str | None:
    return web_url(lora.lora_weights_url, BUTTON_URL_MAX)


def group_url(lora: Lora, taken: set[str]) -> str:
    """The url a LoRA's embeds share (so its images show as one grid); unique in the
    message, so two LoRAs never merge. Also where its title links: the weights."""
    url = web_url(lora.lora_weights_url) or (
        basescan_address_url(lora.wallet_address)
        if is_address(lora.wallet_address)
        else "https://basescan.org/"
    )
    if url in taken or "#" in url:
        url = url.split("#", 1)[0] + f"#lora-{len(taken) + 1}"
    taken.add(url)
    return url


def title(lora: Lora) -> str:
    return safe(lora.trigger_word, 256, single_line=True) or "(no trigger word)"


def footer_id(lora: Lora) -> str:
    return f"ID {plain(lora.id, 80)}"


# --- limits --------------------------------------------------------------------------------
def total_chars(embeds: Iterable[discord.Embed]) -> int:
    return sum(len(embed) for embed in embeds)


def fit(embeds: list[discord.Embed], limit: int = EMBED_CHARS_MAX) -> list[discord.Embed]:
    """Shorten the longest descriptions until the message is within `limit` characters."""
    embeds = embeds[:MAX_EMBEDS]
    excess = total_chars(embeds) - limit
    while excess > 0:
        longest = max(embeds, key=lambda e: len(e.description or ""))
        text = longest.description or ""
        if not text:
            for embed in embeds:  # nothing left to cut in descriptions: drop fields
                embed.clear_fields()
            break
        longest.description = text[: max(0, len(text) - excess - 1)].rstrip() + "…"
        excess = total_chars(embeds) - limit
    return embeds


# --- the gallery ---------------------------------------------------------------------------
def lora_embeds(lora: Lora, url: str) -> list[discord.Embed]:
    """One LoRA: a card plus up to 3 image-only embeds with the same url (a 2 by 2 grid)."""
    thumbs = thumbnails(lora)
    lines = [
        f"**Steps** {steps_text(lora)} · **Images** {image_count_text(lora, len(thumbs))}",
        f"**Trained** {when(lora.created_at)}",
        f"**Creator** {creator_link(lora.wallet_address)}",
        weights_text(lora),
    ]
    card = discord.Embed(title=title(lora), url=url, description="\n".join(lines), colour=COLOUR)
    card.set_footer(text=footer_id(lora))
    if thumbs:
        card.set_image(url=thumbs[0])
    embeds = [card]
    for thumb in thumbs[1:]:
        embeds.append(discord.Embed(url=url, colour=COLOUR).set_image(url=thumb))
    return embeds


def gallery_embeds(page: GalleryPage) -> list[discord.Embed]:
    taken: set[str] = set()
    embeds: list[discord.Embed] = []
    for lora in page.loras[:LORAS_PER_PAGE]:
        embeds += lora_embeds(lora, group_url(lora, taken))
    return fit(embeds)


def filters_text(filters: LoraFilter) -> str:
    parts: list[str] = []
    if filters.wallet is not None:
        parts.append(f"by {creator_link(filters.wallet)}")
    if filters.search is not None:
        parts.append(f"trigger word contains “{safe(filters.search, 80, single_line=True)}”")
    return " · ".join(parts)


def page_text(paging: Paging) -> str:
    return f"page {paging.page:,} of {paging.pages:,}"


def gallery_header(page: GalleryPage) -> str:
    count = page.paging.total
    parts = [
        "**LoRA gallery**",
        page_text(page.paging),
        f"{count:,} LoRA{'s' if count != 1 else ''}",
    ]
    if not page.filters.is_empty:
        parts.append(filters_text(page.filters))
    return " · ".join(parts)


def empty_gallery_embed(filters: LoraFilter) -> discord.Embed:
    if filters.is_empty:
        return discord.Embed(
            title="No LoRAs trained yet",
            description=(
                "Be the first: run `/train` with an Are.na channel of images and a trigger "
                "word. Finished LoRAs appear here for everyone, newest first."
            ),
            colour=COLOUR,
        )
    return discord.Embed(
        title="No LoRAs match",
        description=(
            f"Nothing {filters_text(filters)}. Try another search, or run `/loras` without "
            "filters to see every LoRA."
        ),
        colour=COLOUR,
    )


def not_found_text(what: str) -> str:
    return (
        f"LoRA not found: nothing has the id or trigger word "
        f"“{safe(what, 100, single_line=True)}”. Pick one from the list while typing "
        "`/lora`, or browse the gallery."
    )


# --- a LoRA's detail page ------------------------------------------------------------------
def _status_line(lora: Lora) -> str | None:
    if lora.status == COMPLETED:
        return None
    if lora.status == "pending":
        return "**Status** still training: the weights are not ready yet."
    if lora.status == "failed":
        return "**Status** this training failed; there are no weights."
    return f"**Status** {safe(lora.status, 40, single_line=True)}"


def _image_line(number: int, image: GeneratedImage) -> str:
    prompt = safe(image.prompt, 160, single_line=True) or "(no prompt)"
    line = f"**{number}.** {prompt}"
    if image.seed:
        line += f" · seed {safe(image.seed, 24, single_line=True)}"
    seconds = parse_time(image.created_at)
    if seconds is not None:
        line += f" · <t:{seconds}:R>"
    return line


def detail_embeds(detail: LoraDetail) -> list[discord.Embed]:
    lora, paging = detail.lora, detail.paging
    url = group_url(lora, set())
    thumbs = thumbnails(lora, 1)
    lines = [
        f"**Steps** {steps_text(lora)} · **Training images** {image_count_text(lora, 0)}",
        f"**Trained** {when(lora.created_at)}",
        f"**Creator** {creator_link(lora.wallet_address)}",
    ]
    status = _status_line(lora)
    if status:
        lines.append(status)
    lines.append(weights_text(lora))
    card = discord.Embed(title=title(lora), url=url, description="\n".join(lines), colour=COLOUR)
    if thumbs:
        card.set_thumbnail(url=thumbs[0])
    first = (paging.page - 1) * GENERATED_PER_PAGE
    images = detail.images[:GENERATED_PER_PAGE]
    if images:
        value = "\n".join(_image_line(first + n, image) for n, image in enumerate(images, 1))
        card.add_field(
            name="Generated images, newest first", value=value[:FIELD_VALUE_MAX], inline=False
        )
        card.set_footer(
            text=f"Images {first + 1}–{first + len(images)} of {paging.total:,} · "
            f"{page_text(paging)} · {footer_id(lora)}"
        )
    else:
        card.add_field(
            name="Generated images",
            value="No images generated yet. Press Generate to create the first ones.",
            inline=False,
        )
        card.set_footer(text=footer_id(lora))
    embeds = [card]
    pictures = [u for u in (web_url(i.image_url) for i in images) if u is not None]
    if pictures:
        card.set_image(url=pictures[0])
        embeds += [discord.Embed(url=url, colour=COLOUR).set_image(url=p) for p in pictures[1:]]
    return fit(embeds)
