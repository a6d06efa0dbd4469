"""Answering a component or command within Discord's rules, the same way everywhere.

Who gets what: the person a message belongs to (whoever ran the command, or opened the
private copy) moves it in place; anyone else gets a private copy. Every interaction is
acknowledged (deferred) before its database work, so a burst or a held lock cannot make
the bot miss Discord's 3 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from bot.app import LoraBot


class Target(Enum):
    EDIT = "edit"  # move the clicked message itself
    PRIVATE = "private"  # a new message only the clicker sees
    PUBLIC = "public"  # a new message in the channel


@dataclass
class Rendered:
    content: str | None
    embeds: list[discord.Embed]
    # A `LayoutView` (Components V2) carries all the text itself: then content and
    # embeds stay empty, as Discord requires with the IS_COMPONENTS_V2 flag.
    view: discord.ui.View | discord.ui.LayoutView | None = None
    private: bool = False  # shown only to the user even where the page would be public

    @property
    def is_layout(self) -> bool:
        return isinstance(self.view, discord.ui.LayoutView)

    def new_message(self) -> dict[str, Any]:
        """Keyword arguments for a new message (a V2 one sends no content or embeds)."""
        if self.is_layout:
            return {"view": self.view}
        found: dict[str, Any] = {"content": self.content, "embeds": self.embeds}
        return found if self.view is None else {**found, "view": self.view}

    def edit(self) -> dict[str, Any]:
        """Keyword arguments for an edit: content and embeds cleared for a V2 layout (so a
        legacy message, an error with Retry for instance, can become one)."""
        if self.is_layout:
            return {"content": None, "embeds": [], "view": self.view}
        return {"content": self.content, "embeds": self.embeds, "view": self.view}


def owner_id(interaction: discord.Interaction[LoraBot]) -> int | None:
    """Who the clicked message belongs to: the user whose interaction created it."""
    message = interaction.message
    metadata = message.interaction_metadata if message is not None else None
    return metadata.user.id if metadata is not None else None


def target_for(interaction: discord.Interaction[LoraBot]) -> Target:
    return Target.EDIT if owner_id(interaction) == interaction.user.id else Target.PRIVATE


async def acknowledge(interaction: discord.Interaction[LoraBot], target: Target) -> bool:
    """Acknowledge now, before any database or network work: a busy database can then
    never make the bot miss Discord's 3 seconds. A click that moves its own message is
    deferred as an update (nothing shown); anything else shows "thinking…", private
    where the answer will be. Returns once no other interaction waits for its own
    acknowledgement (`bot.ack_backlog`). True when the deferral is public (see
    `deliver`)."""
    if interaction.response.is_done():
        return False
    if target is Target.EDIT:
        await interaction.response.defer()
    else:
        await interaction.response.defer(ephemeral=target is Target.PRIVATE, thinking=True)
    # Under a burst, the interactions still waiting for theirs go before this one's work.
    backlog = interaction.client.acks
    backlog.acknowledged()
    await backlog.settled()
    return target is Target.PUBLIC


async def deliver(
    interaction: discord.Interaction[LoraBot],
    rendering: Coroutine[Any, Any, Rendered],
    target: Target,
) -> None:
    """Acknowledge first, then answer with what `rendering` builds. What must stay
    private (an error, "not found") never lands in a public "thinking…" message: that
    one is deleted and the answer comes as a private followup."""
    deferred_publicly = False
    try:
        deferred_publicly = await acknowledge(interaction, target)
        rendered = await rendering
    except Exception:
        rendering.close()  # not started if the acknowledgement failed
        if deferred_publicly:
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        raise
    # Building the page and sending it are the two halves of an answer's CPU: what
    # arrived while the page was built (acknowledgements first) runs in between.
    await asyncio.sleep(0)
    await interaction.client.acks.settled()
    if deferred_publicly and rendered.private:
        await interaction.delete_original_response()
        new = rendered.new_message()
        if not rendered.is_layout:
            new["content"] = rendered.content or ""
        await interaction.followup.send(ephemeral=True, **new)
    else:  # the deferred message (or the clicked one) becomes the answer
        await interaction.edit_original_response(**rendered.edit())
