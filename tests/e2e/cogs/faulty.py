"""Commands that fail on purpose, to drive the one error handler end to end."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotConfigured, UserFacingError
from storage.db import DatabaseError


class Faulty(commands.Cog):
    @app_commands.command(name="boom", description="Fails with an unexpected error")
    async def boom(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom: an unexpected bug")

    @app_commands.command(name="refuse", description="Fails with a domain error")
    async def refuse(self, interaction: discord.Interaction) -> None:
        raise UserFacingError("That LoRA is still training. Try again when it has finished.")

    @app_commands.command(name="unconfigured", description="Needs settings that are missing")
    async def unconfigured(self, interaction: discord.Interaction) -> None:
        raise NotConfigured("Image generation", ["FAL_KEY"])

    @app_commands.command(name="dbdown", description="The database fails after a deferral")
    async def dbdown(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        raise DatabaseError("database is locked")


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Faulty())
