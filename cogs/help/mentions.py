"""Clickable command mentions (`</wallet link:123>`): Discord needs the id it gave each
command at sync. They are fetched once from Discord (the synced tree), then kept; until
they are known, or if Discord does not answer, a mention is plain `/name` text."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
FETCH_TIMEOUT = 1.5  # seconds: /help must answer within Discord's 3


class CommandMentions:
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self._ids: dict[str, int] | None = None
        self._lock = asyncio.Lock()

    async def ids(self) -> Mapping[str, int]:
        """Top-level command name -> its id, as synced (global, or the development guild)."""
        if self._ids is not None:
            return self._ids
        async with self._lock:
            if self._ids is None:
                guild_id = self.bot.settings.sync_guild_id
                guild = discord.Object(id=guild_id) if guild_id else None
                try:
                    async with asyncio.timeout(FETCH_TIMEOUT):
                        fetched = await self.bot.tree.fetch_commands(guild=guild)
                except (discord.HTTPException, TimeoutError):
                    log.info("could not fetch command ids; mentions stay plain", exc_info=True)
                    return {}
                self._ids = {c.name: c.id for c in fetched}
        return self._ids


def mention(ids: Mapping[str, int], qualified_name: str) -> str:
    """`</wallet link:ID>` (a subcommand takes its group's id), else `/wallet link`."""
    command_id = ids.get(qualified_name.split(" ", 1)[0])
    return f"</{qualified_name}:{command_id}>" if command_id else f"/{qualified_name}"
