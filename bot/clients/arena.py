"""Are.na's v2 API: the image blocks of one channel, every page, with clear refusals.

`parse_channel_ref` turns what a user typed (a channel link or a bare slug) into a slug;
`ArenaClient.fetch_channel` reads the channel and all its contents pages and keeps the
Image blocks (other kinds are counted, not kept). Every failure becomes a domain error
the user can act on: unknown channel, private channel, rate limit, Are.na down.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.errors import ServiceUnavailable, UserFacingError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.are.na"
# fal's fast trainer works from about 4 images; 200 keeps a zip and a training sane.
ARENA_MIN_IMAGES = 4
ARENA_MAX_IMAGES = 200
MAX_REF_LENGTH = 200
MAX_PAGES = 50  # 5,000 blocks at 100 a page: an endless server cannot keep us reading
MAX_RETRY_WAIT = 10.0  # seconds; a longer Retry-After is answered "try again later"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a 100-block page is ~200 kB
MAX_TITLE_CHARS = 1000

WEB_HOSTS = frozenset({"are.na", "www.are.na"})
# First path segments of are.na pages that are not `/<user>/<channel>`.
_NOT_CHANNEL_PAGES = frozenset(
    {"block", "blocks", "search", "explore", "settings", "about", "blog", "notifications"}
)
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,148}[a-z0-9])?")
_USER = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SCHEMELESS = re.compile(r"(?:www\.)?are\.na/", re.IGNORECASE)
_IMAGE_VARIANTS = ("thumb", "square", "display", "large", "original")
EXAMPLE = "https://www.are.na/username/channel-name"


# --- Errors --------------------------------------------------------------------------------


class InvalidChannelRef(UserFacingError):
    def __init__(self, why: str = "That isn't an Are.na channel.") -> None:
        super().__init__(
            f"{why} Paste the channel's link, like {EXAMPLE}, or just its slug "
            "(the last part of the link, e.g. channel-name)."
        )


class ArenaChannelNotFound(UserFacingError):
    def __init__(self, slug: str) -> None:
        super().__init__(
            f"Are.na has no channel `{slug}`. Check the link or slug: open the channel on "
            "are.na and copy the address from your browser."
        )
        self.slug = slug


class ArenaChannelPrivate(UserFacingError):
    def __init__(self, slug: str, *, with_token: bool) -> None:
        if with_token:
            why = (
                f"The channel `{slug}` is private and the bot's Are.na account cannot see it. "
                "Make it public or closed on Are.na (channel settings → privacy), "
                "or invite the bot's account to it."
            )
        else:
            why = (
                f"The channel `{slug}` is private. Make it public or closed on Are.na "
                "(channel settings → privacy), or ask the bot's operator to set "
                "ARENA_ACCESS_TOKEN for an account that can see it."
            )
        super().__init__(why)
        self.slug = slug


class ArenaUnavailable(ServiceUnavailable):
    def __init__(self, reason: str) -> None:
        super().__init__("Are.na", "Please try again in a minute.")
        self.reason = reason


class ArenaRateLimited(ServiceUnavailable):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("Are.na")
        when = "in a minute"
        if retry_after is not None and retry_after > 60:
            when = f"in about {math.ceil(retry_after / 60)} minutes"
        self.message = f"Are.na is rate-limiting us right now. Please try again {when}."
        self.args = (self.message,)
        self.retry_after = retry_after


class ImageCountOutOfRange(UserFacingError):
    def __init__(self, count: int, minimum: int, maximum: int) -> None:
        noun = "image" if count == 1 else "images"
        if count < minimum:
            text = (
                f"This channel has {count} {noun}; training needs at least {minimum}. "
                "Add more image blocks to it on Are.na, then try again."
            )
        else:
            text = (
                f"This channel has {count} {noun}; training takes at most {maximum}. "
                f"Make a channel with {maximum} images or fewer and try again."
            )
        super().__init__(text)
        self.count, self.minimum, self.maximum = count, minimum, maximum


# --- Data ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArenaImage:
    block_id: int
    title: str  # user text: escape before showing it
    thumb_url: str
    display_url: str  # what training downloads: display, else large, else original
    original_url: str
    content_type: str | None = None
    original_size: int | None = None  # bytes, when Are.na says


@dataclass(frozen=True, slots=True)
class ArenaChannel:
    slug: str
    title: str  # user text: escape before showing it
    status: str  # public | closed | private
    length: int  # blocks and channels, as Are.na counts them
    images: tuple[ArenaImage, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # other block kinds, by class
    truncated: bool = False  # stopped at the page limit with pages left


# --- Input -----------------------------------------------------------------------------------


def parse_channel_ref(text: str) -> str:
    """A channel slug from a link (`https://www.are.na/<user>/<slug>`) or a bare slug."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidChannelRef("No channel given.")
    if len(raw) > MAX_REF_LENGTH:
        raise InvalidChannelRef("That is too long for an Are.na channel link.")
    # Discord users wrap links in <…> to stop the preview.
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].strip()
    if _SLUG.fullmatch(raw.lower()):
        return raw.lower()
    if _SCHEMELESS.match(raw):
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidChannelRef() from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidChannelRef()
    host = (parts.hostname or "").lower()
    if host not in WEB_HOSTS or parts.username is not None or parts.password is not None:
        raise InvalidChannelRef("That link is not on are.na.")
    if port is not None and port not in (80, 443):
        raise InvalidChannelRef("That link is not on are.na.")
    segments = parts.path.split("/")
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash
    if not segments or segments[0] != "":
        raise InvalidChannelRef()
    segments = segments[1:]
    if len(segments) == 2 and segments[0].lower() in _NOT_CHANNEL_PAGES:
        raise InvalidChannelRef("That link is an Are.na page, not a channel.")
    if len(segments) != 2 or not _USER.fullmatch(segments[0]):
        raise InvalidChannelRef("That link is not a channel (it should end in /user/channel).")
    slug = segments[1].lower()
    if not _SLUG.fullmatch(slug):
        raise InvalidChannelRef("That link is not a channel (it should end in /user/channel).")
    return slug


def check_image_count(
    count: int, minimum: int = ARENA_MIN_IMAGES, maximum: int = ARENA_MAX_IMAGES
) -> None:
    if count < minimum or count > maximum:
        raise ImageCountOutOfRange(count, minimum, maximum)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- Parsing the answers ---------------------------------------------------------------------


def _url(variant: Any) -> str | None:
    if isinstance(variant, Mapping):
        url = variant.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return None


def image_of(block: Mapping[str, Any]) -> ArenaImage | None:
    """The image URLs of an Image block, or None when it has no usable file."""
    image = block.get("image")
    block_id = block.get("id")
    if not isinstance(image, Mapping) or not isinstance(block_id, int):
        return None
    urls = {name: _url(image.get(name)) for name in _IMAGE_VARIANTS}
    # Training wants a good-sized image, not a multi-megabyte original.
    display = urls["display"] or urls["large"] or urls["original"]
    if display is None:
        return None
    title = block.get("title") or block.get("generated_title") or ""
    content_type = image.get("content_type")
    original = image.get("original")
    size = original.get("file_size") if isinstance(original, Mapping) else None
    return ArenaImage(
        block_id=block_id,
        title=str(title).strip()[:MAX_TITLE_CHARS],
        thumb_url=urls["thumb"] or urls["square"] or display,
        display_url=display,
        original_url=urls["original"] or urls["large"] or display,
        content_type=content_type if isinstance(content_type, str) else None,
        original_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


# --- The client ------------------------------------------------------------------------------


class ArenaClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_API_URL,
        access_token: str | None = None,
        *,
        per_page: int = 100,
        timeout: float = 15,
        max_retries: int = 3,
        max_pages: int = MAX_PAGES,
        max_retry_wait: float = MAX_RETRY_WAIT,
        backoff: float = 0.5,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.per_page = max(1, min(per_page, 100))  # Are.na's own maximum
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_pages = max_pages
        self.max_retry_wait = max_retry_wait
        self.backoff = backoff
        self._with_token = bool(access_token)
        # The token lives only in this header: never in URLs, reprs or logs.
        self._headers = {"Accept": "application/json"}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"

    def __repr__(self) -> str:
        return f"ArenaClient({self.base_url!r}, token={'set' if self._with_token else 'none'})"

    async def fetch_channel(self, slug: str) -> ArenaChannel:
        if not _SLUG.fullmatch(slug):
            raise InvalidChannelRef()
        started = time.monotonic()
        meta = await self._get_json(f"/v2/channels/{slug}", None, slug)
        if not isinstance(meta, Mapping):
            raise ArenaUnavailable("channel answer is not an object")
        length = meta.get("length")
        length = length if isinstance(length, int) and length >= 0 else 0
        status = meta.get("status")
        title = meta.get("title")

        pages_needed = max(1, math.ceil(length / self.per_page) + 1)  # +1: it may grow
        max_pages = min(self.max_pages, pages_needed)
        images: list[ArenaImage] = []
        skipped: Counter[str] = Counter()
        seen: set[int] = set()
        truncated = False
        pages = 0
        for page in range(1, max_pages + 1):
            body = await self._get_json(
                f"/v2/channels/{slug}/contents", {"page": page, "per": self.per_page}, slug
            )
            contents = body.get("contents") if isinstance(body, Mapping) else body
            if not isinstance(contents, list):
                raise ArenaUnavailable("contents page without a contents list")
            pages += 1
            for block in contents:
                self._sort_block(block, images, skipped, seen)
            if len(contents) < self.per_page:
                break
            truncated = page == max_pages
        channel = ArenaChannel(
            slug=str(meta.get("slug") or slug),
            title=str(title).strip()[:MAX_TITLE_CHARS] if title else slug,
            status=status if isinstance(status, str) else "unknown",
            length=length,
            images=tuple(images),
            skipped=dict(skipped),
            truncated=truncated,
        )
        log.info(
            "are.na channel read",
            extra={
                "slug": slug,
                "pages": pages,
                "images": len(images),
                "skipped": dict(skipped),
                "truncated": truncated,
                "ms": round((time.monotonic() - started) * 1000),
            },
        )
        return channel

    @staticmethod
    def _sort_block(
        block: Any, images: list[ArenaImage], skipped: Counter[str], seen: set[int]
    ) -> None:
        if not isinstance(block, Mapping):
            skipped["Unknown"] += 1
            return
        block_id = block.get("id")
        if isinstance(block_id, int):
            if block_id in seen:  # a block moved across pages while we read
                return
            seen.add(block_id)
        kind = block.get("class")
        kind = kind if isinstance(kind, str) and kind else "Unknown"
        if kind != "Image":
            skipped[kind[:40]] += 1
            return
        image = image_of(block)
        if image is None:
            skipped["Image without a file"] += 1
        else:
            images.append(image)

    async def _get_json(self, path: str, params: dict[str, int] | None, slug: str) -> Any:
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                async with (
                    asyncio.timeout(self.timeout),
                    self.session.get(url, params=params, headers=self._headers) as response,
                ):
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    raw = await _read_capped(response) if status == 200 else b""
            except TimeoutError:
                raise ArenaUnavailable(f"no answer within {self.timeout:g} s") from None
            except _TooLarge:
                raise ArenaUnavailable("answer too large") from None
            except aiohttp.ClientError as exc:
                if attempt < self.max_retries:
                    attempt += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                raise ArenaUnavailable(type(exc).__name__) from None

            if status == 200:
                try:
                    return json.loads(raw)
                except (ValueError, RecursionError):
                    raise ArenaUnavailable("malformed JSON") from None
            if status in (404, 410):
                raise ArenaChannelNotFound(slug)
            if status in (401, 403):
                raise ArenaChannelPrivate(slug, with_token=self._with_token)
            if status == 429:
                wait = parse_retry_after(retry_after)
                if wait is None:
                    wait = self._backoff(attempt + 1)
                if attempt >= self.max_retries or wait > self.max_retry_wait:
                    log.warning("are.na rate limit", extra={"slug": slug, "retry_after": wait})
                    raise ArenaRateLimited(wait)
                attempt += 1
                log.info("are.na rate limit: waiting", extra={"slug": slug, "wait_s": wait})
                await asyncio.sleep(wait)
                continue
            if status in (502, 503, 504) and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            raise ArenaUnavailable(f"HTTP {status}")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_retry_wait, self.backoff * 2 ** (attempt - 1)))


class _TooLarge(Exception):
    pass


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if (response.content_length or 0) > MAX_RESPONSE_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise _TooLarge
    return bytes(body)
