"""The /generate buttons and the prompt modal (custom_ids: `cogs.generate.ids`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.services.gallery import PageRef
from bot.services.generation import PROMPT_MAX, GenerationResult
from cogs.common.interactions import BotItem, BotModal
from cogs.common.respond import Target, deliver
from cogs.gallery.views import render_detail
from cogs.generate import flow, ids

if TYPE_CHECKING:
    from bot.app import LoraBot


class PromptModal(BotModal, title="Generate four images"):
    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="Prompt",
        custom_id="prompt",
        style=discord.TextStyle.paragraph,
        placeholder="Describe the image; the LoRA's style is added for you",
        min_length=1,
        max_length=PROMPT_MAX,
    )

    def __init__(self, lora_id: str, default: str = "") -> None:
        super().__init__(custom_id=ids.prompt_modal_id(lora_id), timeout=900)
        self.lora_id = lora_id
        if default:
            self.prompt.default = default[:PROMPT_MAX]

    async def submit(self, interaction: discord.Interaction[LoraBot]) -> None:
        await flow.run_generation(interaction, self.lora_id, self.prompt.value)


class GenerateButton(
    BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.TEMPLATE
):
    """Every /generate button: what it does is its kind, what it refers to is its key."""

    LOOKS: dict[ids.Kind, tuple[str, discord.ButtonStyle]] = {
        "open": ("Generate", discord.ButtonStyle.primary),
        "again": ("Generate again", discord.ButtonStyle.primary),
        "retry": ("Retry", discord.ButtonStyle.primary),
        "lora": ("Open LoRA", discord.ButtonStyle.secondary),
    }

    def __init__(self, kind: ids.Kind, key: str) -> None:
        label, style = self.LOOKS[kind]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=ids.button_id(kind, key))
        )
        self.kind, self.key = kind, key

    @classmethod
    def from_match(cls, match: re.Match[str]) -> GenerateButton:
        kind = next(k for k in ids.KINDS if k == match["kind"])
        return cls(kind, match["key"])

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        key = ids.checked_key(self.key)
        services = interaction.client.services
        if self.kind == "open":
            await interaction.response.send_modal(PromptModal(key))
            return
        if self.kind == "lora":
            rendering = render_detail(services.gallery, key, PageRef())
            await deliver(interaction, rendering, Target.PRIVATE)
            return
        batch = await services.generator.batch(key)
        if batch is None:
            raise ids.StaleGenerateButton()
        if self.kind == "again":
            await interaction.response.send_modal(PromptModal(batch.lora_id, batch.prompt))
            return
        if batch.discord_user_id != interaction.user.id:
            raise UserFacingError("This Retry belongs to someone else's generation.")
        await flow.run_generation(interaction, batch.lora_id, batch.prompt)


def OpenGenerateButton(lora_id: str) -> GenerateButton:
    return GenerateButton("open", lora_id)


def AgainButton(batch_id: str) -> GenerateButton:
    return GenerateButton("again", batch_id)


def RetryButton(batch_id: str) -> GenerateButton:
    return GenerateButton("retry", batch_id)


def OpenLoraButton(lora_id: str) -> GenerateButton:
    return GenerateButton("lora", lora_id)


def result_view(result: GenerationResult) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AgainButton(result.batch_id))
    lora_id = result.prepared.lora.id
    if ids.fits(lora_id):
        view.add_item(OpenLoraButton(lora_id))
    return view


def retry_view(batch_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(batch_id))
    return view


DYNAMIC_ITEMS = (GenerateButton,)
