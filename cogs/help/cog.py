"""`/help`: what the bot can do, listed from the registered commands themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bot.app import LoraBot

INTRO = (
    "Train a FLUX LoRA on the images of an Are.na channel, browse every LoRA trained "
    "here, and generate images from any of them. Link your Ethereum wallet first."
)


def command_lines(tree: app_commands.CommandTree[LoraBot]) -> list[str]:
    lines: list[str] = []
    for command in sorted(tree.walk_commands(), key=lambda c: c.qualified_name):
        if isinstance(command, app_commands.Group):
            continue
        mention = f"/{command.qualified_name}"
        lines.append(f"**{mention}** — {command.description}")
    return lines


class Help(commands.Cog):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What this bot does and how to use it")
    async def help(self, interaction: discord.Interaction[LoraBot]) -> None:
        embed = discord.Embed(
            title="LoRA trainer", description=INTRO, colour=discord.Colour.blurple()
        )
        embed.add_field(
            name="Commands", value="\n".join(command_lines(self.bot.tree))[:1024], inline=False
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)
