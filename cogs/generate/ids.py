"""The /generate custom_ids, built and parsed only here. State lives in the id:

gen:open:<lora key>     Generate (from /lora and finished trainings): asks for a prompt
gen:again:<batch key>   Generate again: the same LoRA, the prompt prefilled
gen:retry:<batch key>   Retry after a failure: runs the same request again
gen:lora:<lora key>     Open LoRA: its detail page, privately
gen:seed:<batch key>    Same seed: the batch's prompt and seed again (for whoever presses it)
gen:del:<batch key>     Delete: the requester removes their result post
gen:prompt:<lora key>   the prompt modal (`#` + a digest when the id needs a handle)

A key carries an id of any shape exactly (`cogs.common.id_keys`: 32 hex digits of
either case compactly, short ids inline, long ones by a handle), except the bot's own
32 lower-case hex digits, which travel as they are (as in buttons sent before keys).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

from bot.errors import UserFacingError
from cogs.common.custom_ids import claim
from cogs.common.id_keys import NO_HANDLES, InvalidKey, inline_key, key_for, resolve_key

PREFIX = claim("gen:", "generate")
Kind = Literal["open", "again", "retry", "lora", "seed", "del"]
KINDS: tuple[Kind, ...] = ("open", "again", "retry", "lora", "seed", "del")
TEMPLATE = r"gen:(?P<kind>open|again|retry|lora|seed|del):(?P<key>.{0,90})"
_LEGACY = re.compile(r"[0-9a-f]{32}")  # an id as buttons carried it before keys


class StaleGenerateButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "That button isn't one I can use (it may come from an old or altered message). "
            "Use /generate instead."
        )


def key_of(row_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """The key a button carries for `row_id`; None if it needs a handle not given.
    The bot's own ids (32 lower-case hex digits) travel as they are, as they always did."""
    return row_id if _LEGACY.fullmatch(row_id) else key_for(row_id, handles)


def button_id(kind: Kind, key: str) -> str:
    """A button's custom_id from its key (`key_of`)."""
    return f"{PREFIX}{kind}:{key}"


def generate_id(lora_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """The Generate button's custom_id, or None for an id with no key."""
    key = key_of(lora_id, handles)
    return button_id("open", key) if key is not None else None


def open_lora_id(lora_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    key = key_of(lora_id, handles)
    return button_id("lora", key) if key is not None else None


def prompt_modal_id(lora_id: str) -> str:
    """The modal's custom_id (its state lives in the modal object, not here)."""
    key = lora_id if _LEGACY.fullmatch(lora_id) else inline_key(lora_id)
    if key is None:
        key = "#" + hashlib.sha256(lora_id.encode(errors="replace")).hexdigest()[:24]
    return f"{PREFIX}prompt:{key}"


def checked_key(key: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The exact id a clicked button's key stands for (`handles`: handle -> id, as
    `id_keys.read_handles` gives); anything else was not made by this bot."""
    if _LEGACY.fullmatch(key):
        return key
    try:
        return resolve_key(key, handles)
    except InvalidKey:
        raise StaleGenerateButton() from None


def parse_generate_id(custom_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The LoRA id of a Generate button's custom_id."""
    if not custom_id.startswith(button_id("open", "")):
        raise StaleGenerateButton()
    return checked_key(custom_id.removeprefix(button_id("open", "")), handles)
