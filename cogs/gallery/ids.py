"""The gallery's `custom_id`s: the whole state of a button, in at most 100 characters.

    lg:<action>:<page>:<anchor>:<wallet>:<search>   a /loras page
    ld:<action>:<page>:<lora>:<anchor>              a /lora detail page (its images)
    lgs:open                                        the "open one LoRA" menu (values: ids)

`action` is `f` first, `p` previous (newer), `n` next (older), `l` last, `c` the first
page as a new public message (the Retry of a failed command), `i` the page number
(a disabled button). Ids in the web app's format (32 hex digits) travel as 22 base64url
characters, other ids as `~` + base64url of their UTF-8 when short enough; a wallet as
27 base64url characters of its 20 bytes. The search comes last, verbatim, so it may
hold any character including `:`. Anything that does not decode is refused (the user
gets a private message), whoever made it up.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from bot.services.gallery import MAX_PAGE, PageRef, normalise_wallet
from bot.services.records import LoraFilter, Mode
from cogs.common.custom_ids import CUSTOM_ID_MAX, claim

SEARCH_MAX = 32  # characters of a /loras search (the option's max_length)
KEY_MAX = 25  # characters of an encoded id
GALLERY_PREFIX = claim("lg:", "gallery")
DETAIL_PREFIX = claim("ld:", "gallery")
SELECT_ID = claim("lgs:", "gallery") + "open"

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_B64 = re.compile(r"[A-Za-z0-9_-]*")
_PAGE = re.compile(r"[1-9][0-9]{0,5}")

NAVIGATION_ACTIONS = {"f": Mode.FIRST, "p": Mode.NEWER, "n": Mode.OLDER, "l": Mode.LAST}
ACTION_OF_MODE = {mode: action for action, mode in NAVIGATION_ACTIONS.items()}
NEW_MESSAGE = "c"
PAGE_NUMBER = "i"
ACTIONS = {*NAVIGATION_ACTIONS, NEW_MESSAGE, PAGE_NUMBER}


class InvalidCustomId(ValueError):
    """A custom_id that this bot could not have made."""


@dataclass(frozen=True, slots=True)
class GalleryState:
    action: str
    ref: PageRef
    filters: LoraFilter


@dataclass(frozen=True, slots=True)
class DetailState:
    action: str
    ref: PageRef
    lora_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not _B64.fullmatch(text):
        raise InvalidCustomId("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCustomId("not base64url") from exc


def encode_id(row_id: str) -> str | None:
    """A row id in a few characters, or None if it is too long to fit."""
    if _HEX_ID.fullmatch(row_id):
        return _b64(bytes.fromhex(row_id))
    encoded = "~" + _b64(row_id.encode())
    return encoded if len(encoded) <= KEY_MAX and row_id else None


def decode_id(text: str) -> str:
    if len(text) > KEY_MAX:
        raise InvalidCustomId("id too long")
    if text.startswith("~"):
        try:
            value = _unb64(text[1:]).decode()
        except UnicodeDecodeError as exc:
            raise InvalidCustomId("id is not text") from exc
        if not value:
            raise InvalidCustomId("empty id")
        return value
    raw = _unb64(text)
    if len(raw) != 16:
        raise InvalidCustomId("id is not 16 bytes")
    return raw.hex()


def encode_wallet(address: str) -> str:
    normalised = normalise_wallet(address)
    if normalised is None:
        raise ValueError(f"not a wallet address: {address!r}")
    return _b64(bytes.fromhex(normalised[2:]))


def decode_wallet(text: str) -> str:
    raw = _unb64(text)
    if len(raw) != 20 or len(text) != 27:
        raise InvalidCustomId("wallet is not 20 bytes")
    return "0x" + raw.hex()


def _page(text: str) -> int:
    if not _PAGE.fullmatch(text):
        raise InvalidCustomId("bad page number")
    return min(int(text), MAX_PAGE)


def _action_and_ref(action: str, page: int, anchor: str | None) -> PageRef:
    if action not in ACTIONS:
        raise InvalidCustomId("unknown action")
    mode = NAVIGATION_ACTIONS.get(action, Mode.FIRST)
    if mode in (Mode.OLDER, Mode.NEWER) and anchor is None:
        raise InvalidCustomId("previous/next need an anchor")
    return PageRef(mode, page, anchor if mode in (Mode.OLDER, Mode.NEWER) else None)


def _encode_ref(action: str | None, ref: PageRef) -> tuple[str, str, str] | None:
    key = ""
    if ref.anchor is not None and ref.mode in (Mode.OLDER, Mode.NEWER):
        encoded = encode_id(ref.anchor)
        if encoded is None:
            return None
        key = encoded
    return action or ACTION_OF_MODE[ref.mode], str(min(max(ref.page, 1), MAX_PAGE)), key


def gallery_id(ref: PageRef, filters: LoraFilter, *, action: str | None = None) -> str | None:
    """The custom_id of a gallery button, or None if the state cannot be encoded."""
    parts = _encode_ref(action, ref)
    if parts is None:
        return None
    wallet = encode_wallet(filters.wallet) if filters.wallet is not None else ""
    search = filters.search or ""
    if len(search) > SEARCH_MAX:
        return None
    custom_id = GALLERY_PREFIX + ":".join((*parts, wallet, search))
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def parse_gallery_id(custom_id: str) -> GalleryState:
    if not custom_id.startswith(GALLERY_PREFIX) or len(custom_id) > CUSTOM_ID_MAX:
        raise InvalidCustomId("not a gallery button")
    fields = custom_id[len(GALLERY_PREFIX) :].split(":", 4)
    if len(fields) != 5:
        raise InvalidCustomId("wrong number of fields")
    action, page, key, wallet, search = fields
    anchor = decode_id(key) if key else None
    ref = _action_and_ref(action, _page(page), anchor)
    if len(search) > SEARCH_MAX or any(not ch.isprintable() for ch in search):
        raise InvalidCustomId("bad search")
    filters = LoraFilter(
        wallet=decode_wallet(wallet) if wallet else None,
        search=search or None,
    )
    return GalleryState(action, ref, filters)


def detail_id(lora_id: str, ref: PageRef, *, action: str | None = None) -> str | None:
    lora_key = encode_id(lora_id)
    parts = _encode_ref(action, ref)
    if lora_key is None or parts is None:
        return None
    action_code, page, key = parts
    custom_id = DETAIL_PREFIX + ":".join((action_code, page, lora_key, key))
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def parse_detail_id(custom_id: str) -> DetailState:
    if not custom_id.startswith(DETAIL_PREFIX) or len(custom_id) > CUSTOM_ID_MAX:
        raise InvalidCustomId("not a detail button")
    fields = custom_id[len(DETAIL_PREFIX) :].split(":")
    if len(fields) != 4:
        raise InvalidCustomId("wrong number of fields")
    action, page, lora_key, key = fields
    if not lora_key:
        raise InvalidCustomId("no LoRA")
    lora_id = decode_id(lora_key)
    anchor = decode_id(key) if key else None
    return DetailState(action, _action_and_ref(action, _page(page), anchor), lora_id)
