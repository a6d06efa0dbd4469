"""Row ids inside custom_ids: one codec for every feature's `ids.py`.

Rows come from the web app (`hex(randomblob(16))`: 32 UPPER-case hex digits), from the
bot (32 lower-case hex digits) or from anyone else with access to the shared database
(UUIDs, short random strings, any text), so an id is carried exactly, whatever its shape,
as a *key* of at most `KEY_MAX` characters without `:`:

    32 lower-case hex digits   22 base64url characters of the 16 bytes
    32 upper-case hex digits   `^` + those 22 characters
    anything else that fits    `~` + base64url of its UTF-8 (ids up to 17 bytes)
    anything longer            `*` + a 16-character handle kept in the database
                               (`Gallery.handles_for` makes it, `resolve_handle` reads it)

Menu values and autocomplete choices carry the id itself up to 100 characters, else
`*` + its handle (`value_for`). Decoding gives the exact id back (never a case-folded one), or a `Handle` to look up.
Building a view that may need handles is therefore async (`handles_for` below, once per
view); parsing takes the handles already read (`read_handles`, once per click).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from discord import app_commands

from bot.services.records import DatabaseError, LoraChoice

if TYPE_CHECKING:
    from bot.services.gallery import Gallery

log = logging.getLogger(__name__)

KEY_MAX = 25  # characters of a key
ID_MAX = 1024  # the longest id the bot makes buttons for (a longer one gets none)
UPPER_MARK, TEXT_MARK, HANDLE_MARK = "^", "~", "*"
HANDLE_CHARS = 16
NO_HANDLES: Mapping[str, str] = {}

_B64 = re.compile(r"[A-Za-z0-9_-]*")
_HANDLE = re.compile(r"\*[A-Za-z0-9_-]{16}")
_LOWER_HEX = re.compile(r"[0-9a-f]{32}")
_UPPER_HEX = re.compile(r"[0-9A-F]{32}")


class InvalidKey(ValueError):
    """A key this bot could not have made (or a handle nobody made)."""


@dataclass(frozen=True, slots=True)
class Handle:
    value: str  # the 16 characters after `*`


def usable(row_id: str) -> bool:
    """Whether the bot can make buttons for this id at all."""
    if not 1 <= len(row_id) <= ID_MAX:
        return False
    try:
        row_id.encode()
    except UnicodeEncodeError:  # a lone surrogate: no text column holds one
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not _B64.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidKey("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidKey("not base64url") from exc


def inline_key(row_id: str) -> str | None:
    """The key carrying `row_id` itself, or None if it needs a handle."""
    if _LOWER_HEX.fullmatch(row_id):
        return _b64(bytes.fromhex(row_id))
    if _UPPER_HEX.fullmatch(row_id):
        return UPPER_MARK + _b64(bytes.fromhex(row_id))
    if not usable(row_id):
        return None
    encoded = TEXT_MARK + _b64(row_id.encode())
    return encoded if len(encoded) <= KEY_MAX else None


def key_for(row_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """`row_id`'s key: inline, else its handle from `handles` (id -> handle); None if
    neither (no button can carry it)."""
    inline = inline_key(row_id)
    if inline is not None:
        return inline
    handle = handles.get(row_id) if usable(row_id) else None
    return HANDLE_MARK + handle if handle is not None else None


def decode_key(text: str) -> str | Handle:
    """The exact id a key carries, or the handle to look it up by."""
    if not text or len(text) > KEY_MAX:
        raise InvalidKey("no key, or too long")
    mark = text[0]
    if mark == HANDLE_MARK:
        if not _HANDLE.fullmatch(text):
            raise InvalidKey("not a handle")
        return Handle(text[1:])
    if mark == TEXT_MARK:
        try:
            value = _unb64(text[1:]).decode()
        except UnicodeDecodeError as exc:
            raise InvalidKey("id is not text") from exc
        if not value:
            raise InvalidKey("empty id")
        return value
    raw = _unb64(text[1:] if mark == UPPER_MARK else text)
    if len(raw) != 16:
        raise InvalidKey("id is not 16 bytes")
    return raw.hex().upper() if mark == UPPER_MARK else raw.hex()


def resolve_key(text: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The exact id of a key; `handles` maps handle -> id (see `read_handles`)."""
    decoded = decode_key(text)
    if isinstance(decoded, str):
        return decoded
    found = handles.get(decoded.value)
    if found is None:
        raise InvalidKey("unknown handle")
    return found


def is_handle_key(text: str) -> bool:
    return _HANDLE.fullmatch(text) is not None


VALUE_MAX = 100  # characters of a select option's or autocomplete choice's value


def value_for(row_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """An id where Discord allows 100 free characters (menu values, autocomplete
    choices): the id itself, else `*` + its handle; None if it has neither."""
    if 1 <= len(row_id) <= VALUE_MAX and not is_handle_key(row_id):
        return row_id
    handle = handles.get(row_id) if usable(row_id) else None
    return HANDLE_MARK + handle if handle is not None else None


def handles_in(custom_id: str) -> list[str]:
    """The handles a custom_id may refer to (every `:`-separated field shaped like one)."""
    return list(dict.fromkeys(f[1:] for f in custom_id.split(":") if _HANDLE.fullmatch(f)))


async def handles_for(gallery: Gallery, row_ids: Iterable[str]) -> dict[str, str]:
    """id -> handle for those of `row_ids` that need one (one round trip, or none)."""
    needed = [
        i
        for i in dict.fromkeys(row_ids)
        if usable(i) and (inline_key(i) is None or value_for(i) is None)
    ]
    return await gallery.handles_for(needed) if needed else {}


async def choices_of(
    gallery: Gallery, found: list[LoraChoice], name: Callable[[LoraChoice], str]
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices whose values stand for exactly these LoRAs: the id, or `*`
    and its handle for one longer than a choice's 100 characters (see `id_keys`)."""
    try:
        handles = await handles_for(gallery, [c.id for c in found])
    except DatabaseError:
        log.warning("autocomplete handles failed", exc_info=True)
        handles = {}
    values = [(c, value_for(c.id, handles)) for c in found]
    return [app_commands.Choice(name=name(c), value=v) for c, v in values if v is not None]


async def resolve_typed(gallery: Gallery, text: str) -> str | None:
    """A `*handle` typed or picked from autocomplete: the exact id it stands for (None
    if it is no handle, or one nobody made)."""
    return await gallery.resolve_handle(text[1:]) if is_handle_key(text) else None


async def read_handles(gallery: Gallery, *custom_ids: str) -> dict[str, str]:
    """handle -> id for the handles in these custom_ids (unknown ones are left out)."""
    found: dict[str, str] = {}
    for handle in dict.fromkeys(h for c in custom_ids for h in handles_in(c)):
        full_id = await gallery.resolve_handle(handle)
        if full_id is not None:
            found[handle] = full_id
    return found
