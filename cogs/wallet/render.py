"""What /wallet shows: instructions, the message to sign, the linked wallet."""

from __future__ import annotations

import discord

from cogs.common.text import basescan_address_url, code_block, short_address


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


def link_page_url(public_base_url: object, token: str) -> str | None:
    if not public_base_url:
        return None
    return f"{str(public_base_url).rstrip('/')}/link/{token}"
