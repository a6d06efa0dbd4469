"""`/help`: the three steps of getting started, ticked from the user's own state."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.records import DatabaseError
from bot.services.standing import Standing
from cogs.common.respond import Target, acknowledge
from cogs.help.mentions import CommandMentions
from cogs.help.render import HelpFacts, help_embed
from cogs.wallet.views import LinkWalletButton

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)


def command_list(tree: app_commands.CommandTree[LoraBot]) -> list[tuple[str, str]]:
    return [
        (c.qualified_name, c.description)
        for c in tree.walk_commands()
        if not isinstance(c, app_commands.Group)
    ]


class Help(commands.Cog):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self.mentions = CommandMentions(bot)

    async def _standing(self, user_id: int) -> Standing | None:
        """None when the database does not answer: help still helps, without ticks."""
        try:
            return await self.bot.services.standing.of(user_id)
        except DatabaseError:
            log.warning("could not read a user's standing for /help", exc_info=True)
            return None

    @app_commands.command(name="help", description="What this bot does and how to use it")
    async def help(self, interaction: discord.Interaction[LoraBot]) -> None:
        # Acknowledged before the user's standing is read (privately: /help is theirs).
        await acknowledge(interaction, Target.PRIVATE)
        standing, ids = await asyncio.gather(
            self._standing(interaction.user.id), self.mentions.ids()
        )
        facts = HelpFacts(
            price_usd=self.bot.settings.training_price_usd,
            daily_generations=self.bot.services.quota.limit,
        )
        embed = help_embed(standing, facts, ids, command_list(self.bot.tree))
        if standing is None or standing.link is None:
            view = discord.ui.View(timeout=None)
            view.add_item(LinkWalletButton())
            await interaction.edit_original_response(embed=embed, view=view)
            return
        await interaction.edit_original_response(embed=embed)
