"""Reading the bot's answer to an interaction it acknowledged before its database work.

The callback is a deferral: 5 ("thinking…", private where the answer is private) or 6
(a click whose message moves). The answer is the message the deferral became, or the
followup sent instead: after a public "thinking…" whose answer is private (a refusal,
"not found") that followup is private and the public message is gone."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.discord.interactions import EmulatedInteraction

EPHEMERAL, LOADING = 64, 128
DEFERRED_MESSAGE, DEFERRED_UPDATE = 5, 6


def answer_now(ix: EmulatedInteraction) -> dict[str, Any] | None:
    """The message a deferral has become, as stored (not a copy), or None while it is
    not in yet: the first followup, else the original once it is no longer "thinking…"
    (type 5) or has been edited since the acknowledgement (type 6)."""
    world = ix.emu.world
    if ix.followup_ids:
        return world.messages[ix.followup_ids[0]]
    message = world.messages.get(ix.original_message_id or 0)
    if message is None:  # deleted: its private followup is on the way
        return None
    if ix.callback_type == DEFERRED_MESSAGE and message["flags"] & LOADING:
        return None
    edits = world.edit_counts.get(int(message["id"]), 0)
    if ix.callback_type == DEFERRED_UPDATE and edits <= ix.edits_at_ack:
        return None
    return message


async def answer_of(ix: EmulatedInteraction, timeout: float = 5.0) -> dict[str, Any]:
    response = await ix.response(timeout)
    assert response["type"] in (DEFERRED_MESSAGE, DEFERRED_UPDATE), response
    assert ix.acked_after is not None and ix.acked_after < 3.0
    world = ix.emu.world

    def probe() -> dict[str, Any] | None:
        message = answer_now(ix)
        return None if message is None else copy.deepcopy(message)

    answer: dict[str, Any] = await ix.emu.changed.wait_for(
        probe, timeout, "the answer", ix._context
    )
    public_ack = response["type"] == DEFERRED_MESSAGE and not (
        (response.get("data") or {}).get("flags", 0) & EPHEMERAL
    )
    if public_ack and answer["flags"] & EPHEMERAL:
        assert ix.original_message_id not in world.messages  # no public "thinking…" left
    return answer


async def private_answer(ix: EmulatedInteraction, timeout: float = 5.0) -> dict[str, Any]:
    """An answer only the user sees, however it was acknowledged."""
    message = await answer_of(ix, timeout)
    assert message["flags"] & EPHEMERAL, message
    return message
