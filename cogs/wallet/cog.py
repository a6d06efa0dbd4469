"""`/wallet link | status | unlink`: thin glue between Discord and `WalletLinker`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.wallet.links import LinkResult
from cogs.common.respond import Target, acknowledge
from cogs.common.text import short_address
from cogs.wallet.render import credits_line, linked_embed, status_embed
from cogs.wallet.views import (
    DYNAMIC_ITEMS,
    LinkWalletButton,
    UnlinkButton,
    send_link_instructions,
)

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)


class Wallet(
    commands.GroupCog, group_name="wallet", group_description="Your linked Ethereum wallet"
):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self.linker = bot.services.wallet_links

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @app_commands.command(name="link", description="Prove an Ethereum wallet is yours")
    @app_commands.describe(address="Your wallet address, if you will paste a signature")
    async def link(
        self, interaction: discord.Interaction[LoraBot], address: str | None = None
    ) -> None:
        await send_link_instructions(interaction, address)

    @app_commands.command(name="status", description="Your linked wallet and what it can do")
    async def status(self, interaction: discord.Interaction[LoraBot]) -> None:
        # Acknowledged first; then one round trip: the link, the credits and the quota's use.
        await acknowledge(interaction, Target.PRIVATE)
        standing = await self.bot.services.standing.of(interaction.user.id)
        if standing.link is None:
            view = discord.ui.View(timeout=None)
            view.add_item(LinkWalletButton())
            await interaction.edit_original_response(
                content="No wallet linked yet. Press **Link wallet** (or run /wallet link) to "
                "prove one is yours." + credits_line(standing.unused_credits),
                view=view,
            )
            return
        await interaction.edit_original_response(embed=status_embed(standing))

    @app_commands.command(name="unlink", description="Remove your linked wallet")
    async def unlink(self, interaction: discord.Interaction[LoraBot]) -> None:
        await acknowledge(interaction, Target.PRIVATE)
        link = await self.linker.link_of(interaction.user.id)
        if link is None:
            await interaction.edit_original_response(content="No wallet is linked.")
            return
        view = discord.ui.View(timeout=None)
        view.add_item(UnlinkButton(interaction.user.id, "yes"))
        view.add_item(UnlinkButton(interaction.user.id, "no"))
        await interaction.edit_original_response(
            content=f"Unlink {short_address(link.wallet_address)} from your Discord account?",
            view=view,
        )

    @commands.Cog.listener()
    async def on_wallet_linked(self, result: LinkResult) -> None:
        """The signing page finished: turn the private message into "Linked 0x…"."""
        challenge = result.challenge
        if not (challenge.application_id and challenge.interaction_token and challenge.message_id):
            return
        webhook = discord.Webhook.partial(
            challenge.application_id, challenge.interaction_token, client=self.bot
        )
        try:
            await webhook.edit_message(
                challenge.message_id,
                content=None,
                embed=linked_embed(result.address, result.proof),
                attachments=[],
                view=None,
            )
        except discord.HTTPException:
            # Past 15 minutes Discord no longer accepts edits; the link itself stands.
            log.info("could not edit the link message", exc_info=True)
        finally:
            await self.linker.forget_interaction(challenge.token)
