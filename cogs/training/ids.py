"""The /train custom_ids, built and parsed only here. State lives in each id:

train:go:<order>      start the training (a credit or an admin wallet pays)
train:tx:<order>      paste the payment's transaction hash (opens a modal)
train:check:<order>   check the pasted payment again (waiting for confirmations)
train:drop:<order>    cancel the request before anything is submitted
train:stop:<lora>     cancel a training fal has not started yet (its owner only)
train:hash:<order>    the transaction-hash modal
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from bot.errors import UserFacingError
from cogs.common.custom_ids import claim

PREFIX = claim("train:", "training")
Kind = Literal["go", "tx", "check", "drop", "stop"]
KINDS: tuple[Kind, ...] = ("go", "tx", "check", "drop", "stop")
TEMPLATE = r"train:(?P<kind>go|tx|check|drop|stop):(?P<key>.{0,90})"
_KEY = re.compile(r"[0-9a-f]{32}")


class StaleTrainButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__("That button isn't one I can use any more. Run /train again.")


def button_id(kind: Kind, key: str) -> str:
    return f"{PREFIX}{kind}:{key}"


def hash_modal_id(order_id: str) -> str:
    return f"{PREFIX}hash:{order_id}"


def kind_of(text: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    raise StaleTrainButton()


def nonce_for(kind: str, lora_id: str) -> str:
    """The nonce of one of the bot's own posts about a training ("progress", "done"): the
    same for every attempt, so Discord (enforce_nonce) keeps one message. At most 25
    characters, as Discord allows."""
    return hashlib.sha256(f"{kind}:{lora_id}".encode()).hexdigest()[:25]


def checked_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise StaleTrainButton()
    return key
