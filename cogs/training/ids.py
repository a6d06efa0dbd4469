"""The /train custom_ids, built and parsed only here. State lives in each id:

train:go:<order key>      start the training (a credit or an admin wallet pays)
train:tx:<order key>      paste the payment's transaction hash (opens a modal)
train:check:<order key>   check the pasted payment again (waiting for confirmations)
train:drop:<order key>    cancel the request before anything is submitted
train:stop:<lora key>     cancel a training fal has not started yet (its owner only)
train:again:<lora key>    retry a failed training with its settings, paid by the kept credit
train:hash:<order key>    the transaction-hash modal (`#` + a digest for a long id)

Keys carry ids of any shape exactly (`cogs.common.id_keys`), except the bot's own 32
lower-case hex digits, which travel as they are (as in buttons sent before keys).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal

from bot.errors import UserFacingError
from cogs.common.custom_ids import claim
from cogs.common.id_keys import NO_HANDLES, InvalidKey, inline_key, key_for, resolve_key

PREFIX = claim("train:", "training")
Kind = Literal["go", "tx", "check", "drop", "stop", "again"]
KINDS: tuple[Kind, ...] = ("go", "tx", "check", "drop", "stop", "again")
TEMPLATE = r"train:(?P<kind>go|tx|check|drop|stop|again):(?P<key>.{0,90})"
_LEGACY = re.compile(r"[0-9a-f]{32}")  # an id as buttons carried it before keys


class StaleTrainButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__("That button isn't one I can use any more. Run /train again.")


def key_of(row_id: str, handles: Mapping[str, str] = NO_HANDLES) -> str | None:
    """The key a button carries for `row_id`; None if it needs a handle not given.
    The bot's own ids (32 lower-case hex digits) travel as they are, as they always did."""
    return row_id if _LEGACY.fullmatch(row_id) else key_for(row_id, handles)


def button_id(kind: Kind, key: str) -> str:
    """A button's custom_id from its key (`key_of`)."""
    return f"{PREFIX}{kind}:{key}"


def hash_modal_id(order_id: str) -> str:
    """The modal's custom_id (its state lives in the modal object, not here)."""
    key = order_id if _LEGACY.fullmatch(order_id) else inline_key(order_id)
    if key is None:
        key = "#" + hashlib.sha256(order_id.encode(errors="replace")).hexdigest()[:24]
    return f"{PREFIX}hash:{key}"


def kind_of(text: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    raise StaleTrainButton()


def nonce_for(kind: str, lora_id: str) -> str:
    """The nonce of one of the bot's own posts about a training ("progress", "final",
    "done"): the
    same for every attempt, so Discord (enforce_nonce) keeps one message. At most 25
    characters, as Discord allows."""
    return hashlib.sha256(f"{kind}:{lora_id}".encode()).hexdigest()[:25]


def checked_key(key: str, handles: Mapping[str, str] = NO_HANDLES) -> str:
    """The exact id a clicked button's key stands for (`handles`: handle -> id)."""
    if _LEGACY.fullmatch(key):
        return key
    try:
        return resolve_key(key, handles)
    except InvalidKey:
        raise StaleTrainButton() from None
