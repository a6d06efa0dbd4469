"""What /wallet shows: instructions, the message to sign, the linked wallet.

The message to sign travels as the message's plain content, in a code block, never in
an embed: Discord's phone apps cannot select text inside an embed. It is also attached
as `message.txt`, byte for byte: copying a whole message on a phone (long press, Copy
Text) takes the code block's ``` fences with it, and a signature covers every byte. A
message too long for content (2,000 characters) goes only as the attachment.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord

from bot.errors import Moment
from cogs.common.text import basescan_address_url, code_block, discord_moment, short_address

if TYPE_CHECKING:
    from bot.services.standing import Standing

SIGN_ELSEWHERE = "Sign elsewhere"  # asks for the address, then shows the message to sign
PASTE_SIGNATURE = "Paste signature"  # once the message is shown
_CONTENT_MAX = 2000


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
            f"Press **{SIGN_ELSEWHERE}**, enter your wallet address, then sign the message "
            "it shows with that wallet and paste the signature."
        )
        if has_page:
            steps = (
                "Press **Open signing page** to sign with a browser wallet (MetaMask, "
                "Coinbase Wallet, Rabby…); on a phone it offers to open in your wallet "
                "app.\nOr: " + steps[0].lower() + steps[1:]
            )
        return discord.Embed(
            title="Link your wallet",
            description=steps + "\nThis link works once and expires in 10 minutes.",
            colour=discord.Colour.blurple(),
        )
    where = (
        "above, or from the attached message.txt (on a phone, use the file: copying the "
        "message itself also copies the ``` marks)"
        if fits_in_content(message_text)
        else "from the attached message.txt"
    )
    return discord.Embed(
        title="Sign this exact message",
        description=(
            f"Copy the message {where}, sign it with `personal_sign` (e.g. "
            "`cast wallet sign`, a hardware wallet, or Etherscan's signing tool), then "
            f"press **{PASTE_SIGNATURE}**."
        ),
        colour=discord.Colour.blurple(),
    )


def fits_in_content(message_text: str) -> bool:
    return len(code_block(message_text, 10**6)) <= _CONTENT_MAX


def message_content(message_text: str | None) -> str | None:
    """The message to sign as copyable content (None: none yet, or sent as a file)."""
    if message_text is None or not fits_in_content(message_text):
        return None
    return code_block(message_text, _CONTENT_MAX)


def message_files(message_text: str | None) -> list[discord.File]:
    """The message as `message.txt`, exactly the bytes to sign."""
    if message_text is None:
        return []
    return [discord.File(io.BytesIO(message_text.encode()), filename="message.txt")]


def link_page_url(public_base_url: object, token: str) -> str | None:
    if not public_base_url:
        return None
    return f"{str(public_base_url).rstrip('/')}/link/{token}"


def credits_line(unused: int) -> str:
    if unused <= 0:
        return ""
    return f"\nYou have {unused} unused training credit{'s' if unused != 1 else ''}."


def status_embed(standing: Standing) -> discord.Embed:
    """/wallet status: the wallet, its generations (web app use included), when the next
    one frees, and the user's unused training credits."""
    assert standing.link is not None
    link = standing.link
    embed = linked_embed(link.wallet_address, link.proof)
    embed.title = f"Your wallet: {short_address(link.wallet_address)}"
    if link.linked_at:
        linked_at = discord.utils.parse_time(link.linked_at)
        embed.add_field(name="Linked", value=discord_moment(Moment(linked_at, "relative")))
    quota = standing.quota
    if quota is not None:
        embed.add_field(name="Generations", value=quota.describe())
        if not quota.exempt and quota.next_return_at is not None:
            label = "Next one frees" if quota.remaining == 0 else "Another frees"
            embed.add_field(
                name=label, value=discord_moment(Moment(quota.next_return_at, "relative"))
            )
    credits = standing.unused_credits
    embed.add_field(
        name="Training credits",
        value=f"{credits} unused" if credits else "none (/train offers to pay for one)",
    )
    return embed
