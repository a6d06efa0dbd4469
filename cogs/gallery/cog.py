"""`/loras` (the public gallery) and `/lora` (one LoRA and the images made with it).

Thin: options become a `LoraFilter` or a lookup, the `Gallery` service reads the pages,
`cogs.gallery.views` turns them into Components V2 layouts with persistent buttons.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.services.gallery import PageRef, choice_label, normalise_wallet
from bot.services.records import DatabaseError, LoraChoice, LoraFilter
from bot.services.text import one_line
from cogs.common import errors as error_handler
from cogs.common.id_keys import choices_of
from cogs.common.respond import Rendered, Target, deliver
from cogs.common.text import plain, safe
from cogs.gallery import ids
from cogs.gallery.views import (
    DYNAMIC_ITEMS,
    DetailButton,
    GalleryButton,
    render_gallery,
    render_lookup,
)

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
AUTOCOMPLETE_TIMEOUT = 2.0


def choice_name(choice: LoraChoice) -> str:
    """The same text in every LoRA picker (/generate's autocomplete uses it too)."""
    return plain(choice_label(choice), 100)


class GalleryCog(commands.Cog, name="Gallery"):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self.gallery = bot.services.gallery

    async def cog_load(self) -> None:
        # Buttons on every gallery message ever sent are handled from their custom_id.
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    def _filters(
        self, creator: object | None, wallet: str | None, search: str | None
    ) -> LoraFilter:
        """The options as a filter, checked without the database (a creator's wallet is
        looked up once the interaction is acknowledged, `_creator`)."""
        if creator is not None and wallet is not None:
            raise UserFacingError("Use either `creator` or `wallet`, not both.")
        address: str | None = None
        if wallet is not None:
            address = normalise_wallet(wallet)
            if address is None:
                raise UserFacingError(
                    "That isn't a wallet address: it should be `0x` followed by 40 hex "
                    "characters, like `0x1234…abcd` in full."
                )
        # Searched as typed (bound, LIKE wildcards escaped), minus invisible characters.
        text = "".join(c for c in one_line(search or "") if c.isprintable())
        if len(text) > ids.SEARCH_MAX:
            raise UserFacingError(f"Searches can be at most {ids.SEARCH_MAX} characters.")
        return LoraFilter(wallet=address, search=text or None)

    async def _creator(self, creator: discord.User | discord.Member) -> str:
        address = await self.gallery.creator_wallet(creator.id)
        if address is None:
            name = safe(creator.display_name, 80, single_line=True)
            raise UserFacingError(
                f"{name} hasn't linked a wallet, so no LoRAs can be shown for them. "
                "Try `wallet:` with their address instead."
            )
        return address

    @app_commands.command(name="loras", description="Browse every LoRA trained here, newest first")
    @app_commands.describe(
        creator="Only LoRAs by this member (the wallet they linked)",
        wallet="Only LoRAs by this wallet address (0x…)",
        search="Only LoRAs whose trigger word contains this text",
    )
    async def loras(
        self,
        interaction: discord.Interaction[LoraBot],
        creator: discord.User | None = None,
        wallet: app_commands.Range[str, 1, 64] | None = None,
        search: app_commands.Range[str, 1, ids.SEARCH_MAX] | None = None,
    ) -> None:
        filters = self._filters(creator, wallet, search)  # a bad option: told at once
        retry_id = ids.gallery_id(PageRef(), filters, action=ids.NEW_MESSAGE)

        async def rendering() -> Rendered:
            # Inside the rendering, so acknowledged before the creator's wallet is read.
            nonlocal filters, retry_id
            if creator is not None:
                filters = replace(filters, wallet=await self._creator(creator))
                retry_id = ids.gallery_id(PageRef(), filters, action=ids.NEW_MESSAGE)
            return await render_gallery(self.gallery, filters, PageRef(), fresh=True)

        try:
            await deliver(interaction, rendering(), Target.PUBLIC)
        except Exception as exc:
            retry = GalleryButton(_retry_button(retry_id)) if retry_id else None
            await error_handler.report(interaction, exc, retry=retry)

    @app_commands.command(name="lora", description="One LoRA's details and the images made with it")
    @app_commands.describe(lora="Trigger word or LoRA id (pick one from the list)")
    async def lora(
        self, interaction: discord.Interaction[LoraBot], lora: app_commands.Range[str, 1, 100]
    ) -> None:
        text = lora.strip()
        # The Retry opens exactly what was typed (an id from the list is exact).
        retry_id = ids.detail_id(text, PageRef(), action=ids.NEW_MESSAGE) if text else None
        try:
            await deliver(interaction, render_lookup(self.gallery, text), Target.PUBLIC)
        except Exception as exc:
            retry = DetailButton(_retry_button(retry_id)) if retry_id else None
            await error_handler.report(interaction, exc, retry=retry)

    @lora.autocomplete("lora")
    async def lora_autocomplete(
        self, interaction: discord.Interaction[LoraBot], current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            found = await asyncio.wait_for(
                self.gallery.suggest(current[:100]), AUTOCOMPLETE_TIMEOUT
            )
        except (DatabaseError, TimeoutError):
            log.warning("autocomplete failed", exc_info=True)
            return []
        return await choices_of(self.gallery, found, choice_name)


def _retry_button(custom_id: str) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(custom_id=custom_id, label="Retry", style=discord.ButtonStyle.primary)
