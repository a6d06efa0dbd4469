"""A payment as a request any wallet app can open: an EIP-681 URI, and its QR code.

EIP-681 (https://eips.ethereum.org/EIPS/eip-681) writes an ether payment as
`ethereum:<address>@<chain_id>?value=<amount in wei>`. Its grammar also allows
exponent notation (`value=2.014e18`), which some wallets read wrongly or round: the
amount here is always the exact integer of wei, digits only. The QR code is made by
`segno` (pure Python, no network), as SVG for the payment page and PNG for Discord.
"""

from __future__ import annotations

import io
import re

import segno

BASE_CHAIN_ID = 8453
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def payment_request_uri(treasury: str, wei: int, chain_id: int = BASE_CHAIN_ID) -> str:
    """`ethereum:<treasury>@<chain_id>?value=<wei>`: a plain ether transfer request."""
    if not _ADDRESS.match(treasury):
        raise ValueError(f"not an Ethereum address: {treasury!r}")
    if isinstance(wei, bool) or not isinstance(wei, int) or wei <= 0:
        raise ValueError(f"the amount must be a positive whole number of wei, not {wei!r}")
    if chain_id <= 0:
        raise ValueError(f"not a chain id: {chain_id!r}")
    # f"{int}" never uses exponent notation, however large the number.
    return f"ethereum:{treasury}@{chain_id}?value={wei:d}"


def _qr(uri: str) -> segno.QRCode:
    # Level M survives a smudged or glared phone screen; the URI is ~80 bytes (version 5).
    return segno.make_qr(uri, error="m")


def qr_svg(uri: str) -> bytes:
    """A standalone SVG of the QR code, black on white with the quiet zone kept."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=False)
    return out.getvalue()


def qr_png(uri: str) -> bytes:
    """The same QR code as a PNG (Discord shows PNG attachments inline)."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="png", scale=5, border=4)
    return out.getvalue()
