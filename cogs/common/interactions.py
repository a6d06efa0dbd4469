"""Typed interactions: every component and modal callback works with `Interaction[LoraBot]`.

discord.py declares `callback(interaction: Interaction[ClientT])` generic in the client,
so an override that names `LoraBot` is an incompatible override for mypy. The bases
here keep discord.py's signature, check once that the client is our bot, and hand a
typed interaction to `run` / `submit`, where `interaction.client.services` is known.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import discord

from cogs.common.errors import report

if TYPE_CHECKING:
    from bot.app import LoraBot

C = TypeVar("C", bound=discord.Client)


def as_bot(interaction: discord.Interaction[C]) -> discord.Interaction[LoraBot]:
    # Checked by what the bot has rather than by its class: importing `bot.app` here
    # would make every cog depend on the web server and the composition root.
    if getattr(interaction.client, "services", None) is None:
        raise TypeError("this component belongs to the LoRA bot")
    return cast("discord.Interaction[LoraBot]", interaction)


class BotItem:
    """Mixin for our `DynamicItem`s: a subclass says how it is rebuilt from its custom_id
    (`from_match`) and what it does (`run`); errors reach the user through the one error
    handler (discord.py only logs a dynamic item's errors), with `retry_button()` when
    trying again can help."""

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[C],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls.from_match(match)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[C]) -> None:
        typed = as_bot(interaction)
        try:
            await self.run(typed)
        except Exception as exc:
            await report(typed, exc, retry=self.retry_button())

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        raise NotImplementedError

    def retry_button(self) -> discord.ui.Item[Any] | None:
        return None


class BotModal(discord.ui.Modal):
    """A modal whose submit gets a typed interaction and whose errors are reported."""

    async def on_submit(self, interaction: discord.Interaction[C], /) -> None:
        await self.submit(as_bot(interaction))

    async def submit(self, interaction: discord.Interaction[LoraBot]) -> None:
        raise NotImplementedError

    # discord.py's Modal.on_error drops View.on_error's `item` argument.
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[C], error: Exception, /
    ) -> None:
        await report(interaction, error)


async def guarded(
    interaction: discord.Interaction[LoraBot],
    work: Callable[[], Awaitable[None]],
    retry: discord.ui.Item[Any] | None = None,
) -> None:
    """Run `work`, reporting what it raises (for flows outside a `BotItem`)."""
    try:
        await work()
    except Exception as exc:
        await report(interaction, exc, retry=retry)
