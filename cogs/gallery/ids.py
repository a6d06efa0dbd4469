"""The gallery's `custom_id`s: the whole state of a button, in at most 100 characters.

    lg:<action>:<page>:<anchor>:<wallet>:<search>   a /loras page
    ld:<action>:<page>:<lora>:<anchor>              a /lora detail page (its images)
    lgs:open                                        the "open one LoRA" menu (values: ids, or `*`handle)

`action` is `f` first, `p` previous (newer), `n` next (older), `l` last, `c` the first
page as a new public message (the Retry of a failed command), `o` the first page as a
new private message (a gallery card's Open, which leaves the gallery where it is), `i`
the page number (a disabled button). Ids of any shape travel as keys of at most 25 characters
(`cogs.common.id_keys`: 32 hex digits of either case in 22 or 23, short ids inline,
long ones as a handle); a wallet as 27 base64url characters of its 20 bytes. The search comes last, verbatim, so it may
hold any character including `:`. Anything that does not decode is refused (the user
gets a private message), whoever made it up.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.services.gallery import MAX_PAGE, PageRef, normalise_wallet
from bot.services.records import LoraFilter, Mode
from cogs.common.custom_ids import CUSTOM_ID_MAX, claim
from cogs.common.id_keys import (
    NO_HANDLES,
    VALUE_MAX,
    InvalidKey,
    is_handle_key,
    key_for,
    resolve_key,
    value_for,
)

SEARCH_MAX = 32  # characters of a /loras search (the option's max_length)
GALLERY_PREFIX = claim("lg:", "gallery")
DETAIL_PREFIX = claim("ld:", "gallery")
SELECT_ID = claim("lgs:", "gallery") + "open"

_B64 = re.compile(r"[A-Za-z0-9_-]*")
_PAGE = re.compile(r"[1-9][0-9]{0,5}")

NAVIGATION_ACTIONS = {"f": Mode.FIRST, "p": Mode.NEWER, "n": Mode.OLDER, "l": Mode.LAST}
ACTION_OF_MODE = {mode: action for action, mode in NAVIGATION_ACTIONS.items()}
NEW_MESSAGE = "c"
OPEN_PRIVATELY = "o"
PAGE_NUMBER = "i"
ACTIONS = {*NAVIGATION_ACTIONS, NEW_MESSAGE, OPEN_PRIVATELY, PAGE_NUMBER}


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


def encode_id(row_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """A row id as a key (`cogs.common.id_keys`), or None if it has none."""
    return key_for(row_id, handles)


def decode_id(text: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The exact id of a key; `handles`: handle -> id, as `read_handles` gives."""
    try:
        return resolve_key(text, handles)
    except InvalidKey as exc:
        raise InvalidCustomId(str(exc)) from exc


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


def _encode_ref(
    action: str | None, ref: PageRef, handles: Mapping[str, str]
) -> tuple[str, str, str] | None:
    key = ""
    if ref.anchor is not None and ref.mode in (Mode.OLDER, Mode.NEWER):
        encoded = encode_id(ref.anchor, handles)
        if encoded is None:
            return None
        key = encoded
    return action or ACTION_OF_MODE[ref.mode], str(min(max(ref.page, 1), MAX_PAGE)), key


def gallery_id(
    ref: PageRef,
    filters: LoraFilter,
    *,
    action: str | None = None,
    handles: Mapping[str, str] = NO_HANDLES,
) -> str | None:
    """The custom_id of a gallery button, or None if the state cannot be encoded.
    `handles`: id -> handle for ids too long to carry (`id_keys.handles_for`)."""
    parts = _encode_ref(action, ref, handles)
    if parts is None:
        return None
    wallet = encode_wallet(filters.wallet) if filters.wallet is not None else ""
    search = filters.search or ""
    if len(search) > SEARCH_MAX:
        return None
    custom_id = GALLERY_PREFIX + ":".join((*parts, wallet, search))
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def parse_gallery_id(custom_id: str, handles: Mapping[str, str] = NO_HANDLES) -> GalleryState:
    """`handles`: handle -> id for the handles it carries (`id_keys.read_handles`)."""
    if not custom_id.startswith(GALLERY_PREFIX) or len(custom_id) > CUSTOM_ID_MAX:
        raise InvalidCustomId("not a gallery button")
    fields = custom_id[len(GALLERY_PREFIX) :].split(":", 4)
    if len(fields) != 5:
        raise InvalidCustomId("wrong number of fields")
    action, page, key, wallet, search = fields
    anchor = decode_id(key, handles) if key else None
    ref = _action_and_ref(action, _page(page), anchor)
    if len(search) > SEARCH_MAX or any(not ch.isprintable() for ch in search):
        raise InvalidCustomId("bad search")
    filters = LoraFilter(
        wallet=decode_wallet(wallet) if wallet else None,
        search=search or None,
    )
    return GalleryState(action, ref, filters)


def detail_id(
    lora_id: str,
    ref: PageRef,
    *,
    action: str | None = None,
    handles: Mapping[str, str] = NO_HANDLES,
) -> str | None:
    lora_key = encode_id(lora_id, handles)
    parts = _encode_ref(action, ref, handles)
    if lora_key is None or parts is None:
        return None
    action_code, page, key = parts
    custom_id = DETAIL_PREFIX + ":".join((action_code, page, lora_key, key))
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def parse_detail_id(custom_id: str, handles: Mapping[str, str] = NO_HANDLES) -> DetailState:
    if not custom_id.startswith(DETAIL_PREFIX) or len(custom_id) > CUSTOM_ID_MAX:
        raise InvalidCustomId("not a detail button")
    fields = custom_id[len(DETAIL_PREFIX) :].split(":")
    if len(fields) != 4:
        raise InvalidCustomId("wrong number of fields")
    action, page, lora_key, key = fields
    if not lora_key:
        raise InvalidCustomId("no LoRA")
    lora_id = decode_id(lora_key, handles)
    anchor = decode_id(key, handles) if key else None
    return DetailState(action, _action_and_ref(action, _page(page), anchor), lora_id)


def select_value(lora_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """The "open one LoRA" menu's value for a LoRA (`id_keys.value_for`)."""
    return value_for(lora_id, handles)


def parse_select_value(value: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The exact id a menu value stands for."""
    if not 1 <= len(value) <= VALUE_MAX:
        raise InvalidCustomId("bad menu value")
    return decode_id(value, handles) if is_handle_key(value) else value


def select_retry_id(value: str) -> str | None:
    """The Retry of a failed menu choice: the detail page of what was chosen (a handle
    travels as it is, so no database round trip is needed to build it)."""
    if not value:
        return None
    if is_handle_key(value):
        return DETAIL_PREFIX + ":".join((ACTION_OF_MODE[Mode.FIRST], "1", value, ""))
    return detail_id(value, PageRef())
