"""The EIP-681 payment request and its QR code (decoded back with zxing-cpp)."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.services.payments.request import payment_request_uri, qr_png, qr_svg

TREASURY = "0x71C7656EC7ab88b098defB751B7401B5f6d8976F"
# EIP-681's grammar for a plain ether payment, with the amount restricted to what we
# promise: digits only (no sign, fraction or exponent).
EIP681_PAYMENT = re.compile(r"^ethereum:0x[0-9a-fA-F]{40}@[1-9][0-9]*\?value=[1-9][0-9]*$")


def test_the_request_names_treasury_chain_and_exact_wei() -> None:
    assert (
        payment_request_uri(TREASURY, 1_600_000_000_000_000)
        == f"ethereum:{TREASURY}@8453?value=1600000000000000"
    )


@given(st.integers(min_value=1, max_value=10**30))
def test_the_amount_is_always_plain_digits(wei: int) -> None:
    uri = payment_request_uri(TREASURY, wei)
    assert EIP681_PAYMENT.match(uri), uri
    assert int(uri.rsplit("=", 1)[1]) == wei
    assert "e" not in uri.rsplit("=", 1)[1].lower()


@pytest.mark.parametrize(
    ("treasury", "wei"),
    [
        ("0x1234", 1),
        (TREASURY + "00", 1),
        ("vitalik.eth", 1),
        (TREASURY, 0),
        (TREASURY, -5),
        (TREASURY, 1.5),
        (TREASURY, True),
    ],
)
def test_bad_input_is_refused(treasury: str, wei: object) -> None:
    with pytest.raises(ValueError, match=r"not an Ethereum address|whole number of wei"):
        payment_request_uri(treasury, wei)  # type: ignore[arg-type]


def test_the_png_qr_code_decodes_to_the_request() -> None:
    uri = payment_request_uri(TREASURY, 1_234_567_890_123_456_789)
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(uri))))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    assert found.text == uri


def test_the_svg_is_a_standalone_image() -> None:
    svg = qr_svg(payment_request_uri(TREASURY, 10**15)).decode()
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert "<script" not in svg
