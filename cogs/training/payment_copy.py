"""The copyable half of a /train payment preview: amount, treasury and the EIP-681
request as plain message content, and the request's QR code as an attached PNG.

Kept apart from `render.preview_embeds` (the card with the thumbnails): Discord's phone
apps cannot copy text out of an embed, but can copy a message's content, and a wallet
app on another device can scan the QR code. Discord makes only http(s) links tappable,
so the `ethereum:` request itself is tappable on the payment page, not here.
"""

from __future__ import annotations

import io

import discord

from bot.services.payments.request import payment_request_uri, qr_png
from bot.services.payments.verifier import PaymentPartial
from bot.services.training.desk import Preview
from cogs.common.text import short_address

QR_FILENAME = "payment-qr.png"


def _request(preview: Preview) -> str | None:
    price = preview.price
    if price.kind != "quote" or not price.treasury or not price.wei:
        return None
    return payment_request_uri(price.treasury, price.wei)


def payment_content(preview: Preview) -> str | None:
    """Amount, treasury and request in a code block each can be copied from."""
    request, price = _request(preview), preview.price
    if request is None or price.eth is None:
        return None
    amount = price.eth.removesuffix(" ETH")
    return (
        f"Pay **{price.eth}** on Base from your linked wallet "
        f"{short_address(preview.order.wallet)}. To copy on a phone, long-press this "
        "message and pick Copy Text; or scan the QR code with any wallet app.\n"
        f"Amount (ETH):\n```\n{amount}\n```\n"
        f"Treasury address (Base):\n```\n{price.treasury}\n```\n"
        f"Payment request (EIP-681):\n```\n{request}\n```"
    )


def _qr_file(request: str) -> discord.File:
    return discord.File(io.BytesIO(qr_png(request)), filename=QR_FILENAME)


def payment_files(preview: Preview) -> list[discord.File]:
    request = _request(preview)
    return [] if request is None else [_qr_file(request)]


def rest_files(seen: PaymentPartial) -> list[discord.File]:
    """After a part was paid: the QR code asks for what is still missing (the one sent
    with the preview asked for the whole price)."""
    return [_qr_file(payment_request_uri(seen.treasury, seen.missing_wei))]
