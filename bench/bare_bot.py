"""The baseline of bench/load.py: a bare discord.py bot with one slash command that
answers one ephemeral message, and nothing else (no database, no services).

    DISCORD_TOKEN=… DISCORD_API_BASE_URL=… DISCORD_GATEWAY_URL=… python bench/bare_bot.py

It uses the same intents and the same way of pointing discord.py at another Discord as
the real bot, so the two differ only in what the bot itself does.
"""

from __future__ import annotations

import os

import discord
import yarl
from discord import app_commands

discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])


class BareBot(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.tree.sync()


client = BareBot()


@client.tree.command(name="help", description="One ephemeral answer")
async def help_command(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("Hello.", ephemeral=True)


if __name__ == "__main__":
    client.run(os.environ["DISCORD_TOKEN"], log_handler=None)
