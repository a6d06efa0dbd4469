"""The /generate buttons and the prompt modal (custom_ids: `cogs.generate.ids`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from bot.services.gallery import PageRef
from bot.services.generation import PROMPT_MAX
from cogs.common.id_keys import NO_HANDLES, is_handle_key, read_handles
from cogs.common.interactions import BotItem, BotModal
from cogs.common.respond import Target, acknowledge, deliver
from cogs.gallery.views import render_detail
from cogs.generate import actions, flow, ids

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
        await flow.run_generation(interaction, self.lora_id, self.prompt.value, exact=True)


class GenerateButton(
    BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.TEMPLATE
):
    """Every /generate button: what it does is its kind, what it refers to is its key."""

    LOOKS: dict[ids.Kind, tuple[str, discord.ButtonStyle]] = {
        "open": ("Generate", discord.ButtonStyle.primary),
        "again": ("Generate again", discord.ButtonStyle.primary),
        "retry": ("Retry", discord.ButtonStyle.primary),
        "lora": ("Open LoRA", discord.ButtonStyle.secondary),
        "seed": ("Same seed", discord.ButtonStyle.secondary),
        "del": ("Delete", discord.ButtonStyle.danger),
    }

    def __init__(self, kind: ids.Kind, key: str) -> None:
        """`key`: as `ids.key_of` makes it (the id itself only in old messages)."""
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
        services = interaction.client.services
        handles = await read_handles(services.gallery, self.key) if is_handle_key(self.key) else {}
        key = ids.checked_key(self.key, handles)
        if self.kind == "open":
            await interaction.response.send_modal(PromptModal(key))
            return
        if self.kind == "lora":
            rendering = render_detail(services.gallery, key, PageRef())
            await deliver(interaction, rendering, Target.PRIVATE)
            return
        if self.kind in ("seed", "retry"):
            await flow.acknowledge(interaction)  # before the batch is read
            try:
                await self._batch_action(interaction, key)
            except Exception:
                await flow.drop_progress(interaction)
                raise
            return
        if self.kind == "del":
            await acknowledge(interaction, Target.PRIVATE)
        await self._batch_action(interaction, key)

    async def _batch_action(self, interaction: discord.Interaction[LoraBot], key: str) -> None:
        batch = await interaction.client.services.generator.batch(key)
        if batch is None:
            raise ids.StaleGenerateButton()
        if self.kind == "again":
            await interaction.response.send_modal(PromptModal(batch.lora_id, batch.prompt))
            return
        if self.kind == "seed":
            await actions.same_seed(interaction, batch)
            return
        if self.kind == "del":
            await actions.delete_post(interaction, batch)
            return
        if batch.discord_user_id != interaction.user.id:
            raise UserFacingError("This Retry belongs to someone else's generation.")
        await flow.run_generation(interaction, batch.lora_id, batch.prompt, exact=True)


def button_for(
    kind: ids.Kind, row_id: str, handles: Mapping[str, str] = NO_HANDLES
) -> GenerateButton | None:
    """The button of this kind for a LoRA or batch id; None if it has no key (an id
    too long to carry, without its handle in `handles`)."""
    key = ids.key_of(row_id, handles)
    return GenerateButton(kind, key) if key is not None else None


DYNAMIC_ITEMS = (GenerateButton,)
