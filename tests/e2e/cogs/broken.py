"""A cog that cannot load: the bot must log it and carry on without it."""

from __future__ import annotations

from discord.ext import commands


async def setup(bot: commands.Bot) -> None:
    raise ImportError("this feature's dependency is missing")
