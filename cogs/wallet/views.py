"""The /wallet buttons and modals (custom_ids: `cogs.wallet.ids`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import UserFacingError
from cogs.common.interactions import BotItem, BotModal
from cogs.common.respond import Target, acknowledge
from cogs.wallet import ids
from cogs.wallet.render import (
    PASTE_SIGNATURE,
    SIGN_ELSEWHERE,
    instructions_embed,
    link_page_url,
    linked_embed,
    message_content,
    message_files,
)

if TYPE_CHECKING:
    from bot.app import LoraBot


async def send_link_instructions(
    interaction: discord.Interaction[LoraBot], address: str | None = None
) -> None:
    """What /wallet link answers (and the Link wallet button): a fresh one-time link,
    privately; the signing page edits this message once the wallet is proven."""
    bot = interaction.client
    linker = bot.services.wallet_links
    await interaction.response.defer(ephemeral=True, thinking=True)  # before the database
    challenge = await linker.start(
        interaction.user.id,
        interaction.user.name,
        guild_name=interaction.guild.name if interaction.guild else None,
    )
    text = None
    if address:
        text = await linker.message_for(challenge.token, address, user_id=interaction.user.id)
    page = link_page_url(bot.settings.public_base_url, challenge.token)
    message = await interaction.edit_original_response(
        content=message_content(text),
        embed=instructions_embed(text, page is not None),
        attachments=message_files(text),
        view=LinkView(challenge.token, page, has_message=text is not None),
    )
    if bot.application_id is not None:
        # Lets the signing page update this private message after success.
        await linker.attach_interaction(
            challenge.token, bot.application_id, interaction.token, message.id
        )


class LinkWalletButton(
    BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.START_TEMPLATE
):
    """The fix on "link a wallet first" refusals and on /help: anyone who presses it
    gets their own private link, as with /wallet link. No state."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Link wallet", style=discord.ButtonStyle.primary, custom_id=ids.START_ID
            )
        )

    @classmethod
    def from_match(cls, match: re.Match[str]) -> LinkWalletButton:
        return cls()

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        await send_link_instructions(interaction)


class LinkView(discord.ui.View):
    def __init__(self, token: str, page_url: str | None, *, has_message: bool = False) -> None:
        super().__init__(timeout=None)
        if page_url:
            self.add_item(discord.ui.Button(label="Open signing page", url=page_url))
        self.add_item(PasteSignatureButton(token, PASTE_SIGNATURE if has_message else None))


class PasteSignatureButton(
    BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.PASTE_TEMPLATE
):
    """Opens the address modal first, then the signature modal. State: the token.
    Labelled for the next step: "Sign elsewhere", then "Paste signature"."""

    def __init__(self, token: str, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or SIGN_ELSEWHERE,
                style=discord.ButtonStyle.secondary,
                custom_id=ids.paste_id(token),
            )
        )
        self.token = token

    @classmethod
    def from_match(cls, match: re.Match[str]) -> PasteSignatureButton:
        return cls(match["token"])

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        linker = interaction.client.services.wallet_links
        challenge = await linker.challenge_for(self.token, interaction.user.id)
        if challenge.message is None:
            await interaction.response.send_modal(AddressModal(self.token))
        else:
            await interaction.response.send_modal(SignatureModal(self.token))


class AddressModal(BotModal, title="Your wallet address"):
    address: discord.ui.TextInput[AddressModal] = discord.ui.TextInput(
        label="Wallet address", custom_id="address", placeholder="0x…", min_length=40, max_length=64
    )

    def __init__(self, token: str) -> None:
        super().__init__(custom_id=ids.address_modal_id(token), timeout=600)
        self.token = token

    async def submit(self, interaction: discord.Interaction[LoraBot]) -> None:
        linker = interaction.client.services.wallet_links
        await interaction.response.defer()  # the message moves once the database answers
        text = await linker.message_for(self.token, self.address.value, user_id=interaction.user.id)
        page = link_page_url(interaction.client.settings.public_base_url, self.token)
        await interaction.edit_original_response(
            content=message_content(text),
            embed=instructions_embed(text, page is not None),
            attachments=message_files(text),
            view=LinkView(self.token, page, has_message=True),
        )


class SignatureModal(BotModal, title="Paste your signature"):
    signature: discord.ui.TextInput[SignatureModal] = discord.ui.TextInput(
        label="Signature",
        custom_id="signature",
        placeholder="0x… (132 characters for an ordinary wallet)",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=4000,
    )

    def __init__(self, token: str) -> None:
        super().__init__(custom_id=ids.signature_modal_id(token), timeout=600)
        self.token = token

    async def submit(self, interaction: discord.Interaction[LoraBot]) -> None:
        linker = interaction.client.services.wallet_links
        # Checking a smart wallet can take an RPC round trip: acknowledge first.
        await acknowledge(interaction, Target.EDIT)
        result = await linker.complete(
            self.token, self.signature.value, user_id=interaction.user.id
        )
        await linker.forget_interaction(self.token)
        await interaction.edit_original_response(
            content=None,
            embed=linked_embed(result.address, result.proof),
            attachments=[],
            view=None,
        )


class UnlinkButton(
    BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.UNLINK_TEMPLATE
):
    def __init__(self, user_id: int, choice: str) -> None:
        confirm = choice == "yes"
        super().__init__(
            discord.ui.Button(
                label="Unlink" if confirm else "Keep it",
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=ids.unlink_id(user_id, choice),
            )
        )
        self.user_id = user_id
        self.choice = choice

    @classmethod
    def from_match(cls, match: re.Match[str]) -> UnlinkButton:
        return cls(int(match["user"]), match["choice"])

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        if interaction.user.id != self.user_id:
            raise UserFacingError("This button belongs to someone else's /wallet unlink.")
        if self.choice == "no":
            await interaction.response.edit_message(
                content="Kept your wallet linked.", embed=None, view=None
            )
            return
        await acknowledge(interaction, Target.EDIT)
        removed = await interaction.client.services.wallet_links.unlink(self.user_id)
        text = "Unlinked your wallet." if removed else "No wallet was linked."
        await interaction.edit_original_response(content=text, embed=None, view=None)


DYNAMIC_ITEMS = (PasteSignatureButton, UnlinkButton, LinkWalletButton)
