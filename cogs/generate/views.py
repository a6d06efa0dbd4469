"""What /generate shows and the buttons around it. Every button's state is its custom_id:

gen:open:<lora id>      Generate (from /lora and finished trainings): asks for a prompt
gen:again:<batch id>    Generate again: the same LoRA, the prompt prefilled
gen:retry:<batch id>    Retry after a failure: runs the same request again
gen:lora:<lora id>      Open LoRA: its detail page, privately
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.errors import UserFacingError
from bot.services.gallery import PageRef
from bot.services.generation import PROMPT_MAX, GenerationResult, Prepared
from cogs.common.errors import ReportingModal
from cogs.common.respond import Target, deliver, guarded
from cogs.common.text import plain, safe, truncate
from cogs.gallery.views import gallery_of, render_detail

RunGeneration = Callable[[discord.Interaction[Any], str, str], Awaitable[None]]
COG_NAME = "Generate"
_ID = r"[0-9a-f]{32}"
THREAD_NAME_MAX = 100


def runner(client: discord.Client) -> RunGeneration:
    """The one flow every entry point ends in (slash command, modal, Retry): the cog's."""
    run = getattr(client.get_cog(COG_NAME), "run_generation", None)  # type: ignore[attr-defined]
    if run is None:
        raise UserFacingError("Image generation is not available right now. Try again shortly.")
    return run  # type: ignore[no-any-return]


class StaleGenerateButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "That button isn't one I can use (it may come from an old or altered message). "
            "Use /generate instead."
        )


def thread_name(prepared: Prepared) -> str:
    return plain(f"{prepared.lora.trigger_word} · {prepared.prompt}", THREAD_NAME_MAX) or "images"


def progress_embed(prepared: Prepared, state: str) -> discord.Embed:
    embed = discord.Embed(
        title=f"Generating with {safe(prepared.lora.trigger_word, 200, single_line=True)}",
        description=safe(prepared.prompt, 1000),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=state)
    return embed


def queue_text(position: int | None) -> str:
    if position is None:
        return "Generating… (usually 5–15 seconds)"
    if position == 0:
        return "Next in fal.ai's queue…"
    return f"Waiting in fal.ai's queue: position {position}…"


def result_embed(result: GenerationResult, *, shown: int) -> discord.Embed:
    prepared = result.prepared
    embed = discord.Embed(
        title=truncate(f"{prepared.lora.trigger_word}", 256),
        description=safe(prepared.prompt, 1500),
        colour=discord.Colour.green(),
    )
    embed.title = safe(prepared.lora.trigger_word, 250, single_line=True)
    if result.seed is not None:
        embed.add_field(name="Seed", value=f"`{result.seed[:100]}`")
    first = next((i for i in result.images if i.width and i.height), None)
    if first is not None:
        embed.add_field(name="Size", value=f"{first.width}×{first.height}")
    embed.add_field(name="Quota", value=result.quota.describe())
    notes = []
    if result.withheld:
        notes.append(
            f"The safety filter withheld {result.withheld} of 4 images."
            if shown or result.failed_downloads
            else "The safety filter withheld all 4 images. Try another prompt."
        )
    if result.failed_downloads:
        notes.append(
            f"{result.failed_downloads} image(s) could not be fetched from fal.ai; they are "
            "listed on the LoRA's page."
        )
    if notes:
        embed.add_field(name="Note", value=" ".join(notes), inline=False)
    return embed


def result_view(result: GenerationResult) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AgainButton(result.batch_id))
    lora_id = result.prepared.lora.id
    if re.fullmatch(_ID, lora_id):
        view.add_item(OpenLoraButton(lora_id))
    return view


def retry_view(batch_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(batch_id))
    return view


class PromptModal(ReportingModal, title="Generate four images"):
    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="Prompt",
        custom_id="prompt",
        style=discord.TextStyle.paragraph,
        placeholder="Describe the image; the LoRA's style is added for you",
        min_length=1,
        max_length=PROMPT_MAX,
    )

    def __init__(self, lora_id: str, default: str = "") -> None:
        super().__init__(custom_id=f"gen:prompt:{lora_id}", timeout=900)
        self.lora_id = lora_id
        if default:
            self.prompt.default = default[:PROMPT_MAX]

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await runner(interaction.client)(interaction, self.lora_id, self.prompt.value)


def _checked(value: str) -> str:
    """Ids in custom_ids are 32 hex digits; anything else was not made by this bot."""
    if not re.fullmatch(_ID, value):
        raise StaleGenerateButton()
    return value


class GenerateButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"gen:(?P<kind>open|again|retry|lora):(?P<key>.{0,90})",
):
    """Every /generate button: what it does is its kind, what it refers to is its key."""

    LOOKS = {
        "open": ("Generate", discord.ButtonStyle.primary),
        "again": ("Generate again", discord.ButtonStyle.primary),
        "retry": ("Retry", discord.ButtonStyle.primary),
        "lora": ("Open LoRA", discord.ButtonStyle.secondary),
    }

    def __init__(self, kind: str, key: str) -> None:
        label, style = self.LOOKS[kind]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"gen:{kind}:{key}"))
        self.kind, self.key = kind, key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> GenerateButton:
        return cls(match["kind"], match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._run(interaction, _checked(self.key)), None)

    async def _run(self, interaction: discord.Interaction[Any], key: str) -> None:
        if self.kind == "open":
            await interaction.response.send_modal(PromptModal(key))
        elif self.kind == "lora":
            gallery = gallery_of(interaction.client)
            await deliver(interaction, render_detail(gallery, key, PageRef()), Target.PRIVATE)
        else:
            batch = await interaction.client.generator.batch(key)
            if batch is None:
                raise StaleGenerateButton()
            if self.kind == "again":
                await interaction.response.send_modal(PromptModal(batch.lora_id, batch.prompt))
                return
            if batch.discord_user_id != interaction.user.id:
                raise UserFacingError("This Retry belongs to someone else's generation.")
            await runner(interaction.client)(interaction, batch.lora_id, batch.prompt)


def OpenGenerateButton(lora_id: str) -> GenerateButton:
    return GenerateButton("open", lora_id)


def AgainButton(batch_id: str) -> GenerateButton:
    return GenerateButton("again", batch_id)


def RetryButton(batch_id: str) -> GenerateButton:
    return GenerateButton("retry", batch_id)


def OpenLoraButton(lora_id: str) -> GenerateButton:
    return GenerateButton("lora", lora_id)


DYNAMIC_ITEMS = (GenerateButton,)
