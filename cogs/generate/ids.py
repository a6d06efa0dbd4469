"""The /generate custom_ids, built and parsed only here. State lives in the id:

gen:open:<lora id>      Generate (from /lora and finished trainings): asks for a prompt
gen:again:<batch id>    Generate again: the same LoRA, the prompt prefilled
gen:retry:<batch id>    Retry after a failure: runs the same request again
gen:lora:<lora id>      Open LoRA: its detail page, privately
gen:prompt:<lora id>    the prompt modal
"""

from __future__ import annotations

import re
from typing import Literal

from bot.errors import UserFacingError
from cogs.common.custom_ids import claim

PREFIX = claim("gen:", "generate")
Kind = Literal["open", "again", "retry", "lora"]
KINDS: tuple[Kind, ...] = ("open", "again", "retry", "lora")
TEMPLATE = r"gen:(?P<kind>open|again|retry|lora):(?P<key>.{0,90})"
_KEY = re.compile(r"[0-9a-f]{32}")


class StaleGenerateButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "That button isn't one I can use (it may come from an old or altered message). "
            "Use /generate instead."
        )


def fits(key: str) -> bool:
    """Ids in custom_ids are 32 hex digits (the web app's format)."""
    return _KEY.fullmatch(key) is not None


def button_id(kind: Kind, key: str) -> str:
    return f"{PREFIX}{kind}:{key}"


def generate_id(lora_id: str) -> str | None:
    """The Generate button's custom_id, or None for an id that does not fit."""
    return button_id("open", lora_id) if fits(lora_id) else None


def open_lora_id(lora_id: str) -> str | None:
    return button_id("lora", lora_id) if fits(lora_id) else None


def prompt_modal_id(lora_id: str) -> str:
    return f"{PREFIX}prompt:{lora_id}"


def checked_key(key: str) -> str:
    """The key of a clicked button; anything else was not made by this bot."""
    if not fits(key):
        raise StaleGenerateButton()
    return key


def parse_generate_id(custom_id: str) -> str:
    """The LoRA id of a Generate button's custom_id."""
    if not custom_id.startswith(button_id("open", "")):
        raise StaleGenerateButton()
    return checked_key(custom_id.removeprefix(button_id("open", "")))
