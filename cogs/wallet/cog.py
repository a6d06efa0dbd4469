"""`/wallet link | status | unlink`: thin glue between Discord and `WalletLinker`."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.errors import UserFacingError
from bot.services.wallet.links import LinkResult, WalletLinker
from cogs.common.errors import ReportingModal
from cogs.common.respond import guarded
from cogs.common.text import basescan_address_url, code_block, short_address
from storage import wallets
from storage.db import DatabaseError

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
# The shape of a link token (random, URL-safe), as it appears in custom_ids.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,64}"  # noqa: S105


def linker_of(bot: LoraBot) -> WalletLinker:
    if bot.wallet_linker is None:
        assert bot.wallet_linking_unavailable is not None
        raise bot.wallet_linking_unavailable
    return bot.wallet_linker


def linked_embed(address: str, proof: str) -> discord.Embed:
    kind = {"eoa": "signature", "erc1271": "smart wallet (ERC-1271)"}.get(
        proof, "smart wallet, not yet deployed (ERC-6492)"
    )
    return discord.Embed(
        title=f"Linked {short_address(address)}",
        description=(
            f"[{address}]({basescan_address_url(address)})\nProven by {kind}. "
            "Use /wallet status to see it, /wallet unlink to remove it."
        ),
        colour=discord.Colour.green(),
    )


def instructions_embed(message_text: str | None, has_page: bool) -> discord.Embed:
    if message_text is None:
        steps = (
            "Press **Paste signature**, enter your wallet address, then sign the message "
            "it shows with that wallet and paste the signature."
        )
        if has_page:
            steps = (
                "Press **Open signing page** to sign with a browser wallet (MetaMask, "
                "Coinbase Wallet, Rabby…).\nOr: " + steps[0].lower() + steps[1:]
            )
        return discord.Embed(
            title="Link your wallet",
            description=steps + "\nThis link works once and expires in 10 minutes.",
            colour=discord.Colour.blurple(),
        )
    return discord.Embed(
        title="Sign this exact message",
        description=(
            "Sign it with `personal_sign` (e.g. `cast wallet sign`, a hardware wallet, or "
            "Etherscan's signing tool), then press **Paste signature**.\n"
            + code_block(message_text, 3800)
        ),
        colour=discord.Colour.blurple(),
    )


class LinkView(discord.ui.View):
    def __init__(self, token: str, page_url: str | None) -> None:
        super().__init__(timeout=None)
        if page_url:
            self.add_item(discord.ui.Button(label="Open signing page", url=page_url))
        self.add_item(PasteSignatureButton(token))


class PasteSignatureButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"wallet:paste:(?P<token>{TOKEN_PATTERN})",
):
    """Opens the address modal first, then the signature modal. State: the token."""

    def __init__(self, token: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Paste signature",
                style=discord.ButtonStyle.secondary,
                custom_id=f"wallet:paste:{token}",
            )
        )
        self.token = token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PasteSignatureButton:
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py only logs a dynamic item's errors: route them to the user ourselves.
        await guarded(interaction, lambda: self._open(interaction), None)

    async def _open(self, interaction: discord.Interaction[Any]) -> None:
        linker = linker_of(interaction.client)
        challenge = await linker.challenge_for(self.token, interaction.user.id)
        if challenge.message is None:
            await interaction.response.send_modal(AddressModal(self.token))
        else:
            await interaction.response.send_modal(SignatureModal(self.token))


class AddressModal(ReportingModal, title="Your wallet address"):
    address: discord.ui.TextInput[AddressModal] = discord.ui.TextInput(
        label="Wallet address", custom_id="address", placeholder="0x…", min_length=40, max_length=64
    )

    def __init__(self, token: str) -> None:
        super().__init__(custom_id=f"wallet:address:{token}", timeout=600)
        self.token = token

    async def on_submit(self, interaction: discord.Interaction[LoraBot]) -> None:  # type: ignore[override]
        linker = linker_of(interaction.client)
        text = await linker.message_for(self.token, self.address.value, user_id=interaction.user.id)
        settings = interaction.client.settings
        page = link_page_url(settings.public_base_url, self.token)
        await interaction.response.edit_message(
            embed=instructions_embed(text, page is not None), view=LinkView(self.token, page)
        )


class SignatureModal(ReportingModal, title="Paste your signature"):
    signature: discord.ui.TextInput[SignatureModal] = discord.ui.TextInput(
        label="Signature",
        custom_id="signature",
        placeholder="0x… (132 characters for an ordinary wallet)",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=4000,
    )

    def __init__(self, token: str) -> None:
        super().__init__(custom_id=f"wallet:signature:{token}", timeout=600)
        self.token = token

    async def on_submit(self, interaction: discord.Interaction[LoraBot]) -> None:  # type: ignore[override]
        linker = linker_of(interaction.client)
        # Checking a smart wallet can take an RPC round trip: acknowledge first.
        await interaction.response.defer()
        result = await linker.complete(
            self.token, self.signature.value, user_id=interaction.user.id
        )
        await linker.forget_interaction(self.token)
        await interaction.edit_original_response(
            embed=linked_embed(result.address, result.proof), view=None
        )


class UnlinkButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"wallet:unlink:(?P<user>[0-9]{1,25}):(?P<choice>yes|no)",
):
    def __init__(self, user_id: int, choice: str) -> None:
        confirm = choice == "yes"
        super().__init__(
            discord.ui.Button(
                label="Unlink" if confirm else "Keep it",
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=f"wallet:unlink:{user_id}:{choice}",
            )
        )
        self.user_id = user_id
        self.choice = choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> UnlinkButton:
        return cls(int(match["user"]), match["choice"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self._answer(interaction), None)

    async def _answer(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.user.id != self.user_id:
            raise UserFacingError("This button belongs to someone else's /wallet unlink.")
        if self.choice == "no":
            await interaction.response.edit_message(
                content="Kept your wallet linked.", embed=None, view=None
            )
            return
        removed = await wallets.remove_link(interaction.client.db, self.user_id)
        text = "Unlinked your wallet." if removed else "No wallet was linked."
        await interaction.response.edit_message(content=text, embed=None, view=None)


def link_page_url(public_base_url: Any, token: str) -> str | None:
    if not public_base_url:
        return None
    return f"{str(public_base_url).rstrip('/')}/link/{token}"


class Wallet(
    commands.GroupCog, group_name="wallet", group_description="Your linked Ethereum wallet"
):
    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PasteSignatureButton, UnlinkButton)
        self.purge_old_challenges.start()

    async def cog_unload(self) -> None:
        self.purge_old_challenges.cancel()
        self.bot.remove_dynamic_items(PasteSignatureButton, UnlinkButton)

    @tasks.loop(hours=1)
    async def purge_old_challenges(self) -> None:
        """Expired link requests are kept a day (for support questions), then dropped."""
        if self.bot.wallet_linker is not None:
            try:
                await self.bot.wallet_linker.purge_expired(older_than=timedelta(days=1))
            except DatabaseError:
                log.warning("could not purge old link requests", exc_info=True)

    @app_commands.command(name="link", description="Prove an Ethereum wallet is yours")
    @app_commands.describe(address="Your wallet address, if you will paste a signature")
    async def link(
        self, interaction: discord.Interaction[LoraBot], address: str | None = None
    ) -> None:
        linker = linker_of(self.bot)
        challenge = await linker.start(interaction.user.id, interaction.user.name)
        text = None
        if address:
            text = await linker.message_for(challenge.token, address, user_id=interaction.user.id)
        page = link_page_url(self.bot.settings.public_base_url, challenge.token)
        callback = await interaction.response.send_message(
            embed=instructions_embed(text, page is not None),
            view=LinkView(challenge.token, page),
            ephemeral=True,
        )
        if callback.message_id is not None and self.bot.application_id is not None:
            # Lets the signing page update this private message after success.
            await linker.attach_interaction(
                challenge.token, self.bot.application_id, interaction.token, callback.message_id
            )

    @app_commands.command(name="status", description="Your linked wallet and what it can do")
    async def status(self, interaction: discord.Interaction[LoraBot]) -> None:
        link = await wallets.get_link(self.bot.db, interaction.user.id)
        if link is None:
            await interaction.response.send_message(
                "No wallet linked yet. Use /wallet link to prove one is yours.", ephemeral=True
            )
            return
        embed = linked_embed(link.wallet_address, link.proof)
        embed.title = f"Your wallet: {short_address(link.wallet_address)}"
        linked_at = (
            int(discord.utils.parse_time(link.linked_at).timestamp()) if link.linked_at else None
        )
        if linked_at:
            embed.add_field(name="Linked", value=f"<t:{linked_at}:R>")
        quota = await self.bot.quota.status(link.wallet_address)
        embed.add_field(name="Generations", value=quota.describe())
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="unlink", description="Remove your linked wallet")
    async def unlink(self, interaction: discord.Interaction[LoraBot]) -> None:
        link = await wallets.get_link(self.bot.db, interaction.user.id)
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
                challenge.message_id, embed=linked_embed(result.address, result.proof), view=None
            )
        except discord.HTTPException:
            # Past 15 minutes Discord no longer accepts edits; the link itself stands.
            log.info("could not edit the link message", exc_info=True)
        finally:
            await linker_of(self.bot).forget_interaction(challenge.token)
