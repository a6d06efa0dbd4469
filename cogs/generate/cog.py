"""`/generate`: four images from a finished LoRA, posted in a thread (see `flow.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.gallery import choice_label
from cogs.common.id_keys import choices_of
from cogs.common.text import plain
from cogs.generate import flow
from cogs.generate.views import DYNAMIC_ITEMS

if TYPE_CHECKING:
    from bot.app import LoraBot


class Generate(commands.Cog, name="Generate"):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="generate", description="Four images from a finished LoRA")
    @app_commands.describe(
        lora="A finished LoRA: type its trigger word", prompt="What to draw (1–500 characters)"
    )
    async def generate(
        self, interaction: discord.Interaction[LoraBot], lora: str, prompt: str
    ) -> None:
        await flow.run_generation(interaction, lora, prompt)

    @generate.autocomplete("lora")
    async def lora_choices(
        self, interaction: discord.Interaction[LoraBot], current: str
    ) -> list[app_commands.Choice[str]]:
        gallery = self.bot.services.gallery
        found = await gallery.suggest(current[:100])
        return await choices_of(gallery, found, lambda c: plain(choice_label(c), 100) or c.id[:100])
