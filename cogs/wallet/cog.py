"""`/wallet link | status | unlink`: thin glue between Discord and `WalletLinker`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import Moment
from bot.services.wallet.links import LinkResult
from cogs.common.text import discord_moment, short_address
from cogs.wallet.render import (
    instructions_embed,
    link_page_url,
    linked_embed,
    message_content,
    message_files,
)
from cogs.wallet.views import DYNAMIC_ITEMS, LinkView, UnlinkButton

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
        challenge = await self.linker.start(
            interaction.user.id,
            interaction.user.name,
            guild_name=interaction.guild.name if interaction.guild else None,
        )
        text = None
        if address:
            text = await self.linker.message_for(
                challenge.token, address, user_id=interaction.user.id
            )
        page = link_page_url(self.bot.settings.public_base_url, challenge.token)
        callback = await interaction.response.send_message(
            content=message_content(text),
            embed=instructions_embed(text, page is not None),
            files=message_files(text),
            view=LinkView(challenge.token, page, has_message=text is not None),
            ephemeral=True,
        )
        if callback.message_id is not None and self.bot.application_id is not None:
            # Lets the signing page update this private message after success.
            await self.linker.attach_interaction(
                challenge.token, self.bot.application_id, interaction.token, callback.message_id
            )

    @app_commands.command(name="status", description="Your linked wallet and what it can do")
    async def status(self, interaction: discord.Interaction[LoraBot]) -> None:
        link = await self.linker.link_of(interaction.user.id)
        if link is None:
            await interaction.response.send_message(
                "No wallet linked yet. Use /wallet link to prove one is yours.", ephemeral=True
            )
            return
        embed = linked_embed(link.wallet_address, link.proof)
        embed.title = f"Your wallet: {short_address(link.wallet_address)}"
        if link.linked_at:
            linked_at = discord.utils.parse_time(link.linked_at)
            embed.add_field(name="Linked", value=discord_moment(Moment(linked_at, "relative")))
        quota = await self.bot.services.quota.status(link.wallet_address)
        embed.add_field(name="Generations", value=quota.describe())
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="unlink", description="Remove your linked wallet")
    async def unlink(self, interaction: discord.Interaction[LoraBot]) -> None:
        link = await self.linker.link_of(interaction.user.id)
        if link is None:
            await interaction.response.send_message("No wallet is linked.", ephemeral=True)
            return
        view = discord.ui.View(timeout=None)
        view.add_item(UnlinkButton(interaction.user.id, "yes"))
        view.add_item(UnlinkButton(interaction.user.id, "no"))
        await interaction.response.send_message(
            f"Unlink {short_address(link.wallet_address)} from your Discord account?",
            view=view,
            ephemeral=True,
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
