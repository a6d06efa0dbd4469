"""The pure parts of payments: wei arithmetic, ETH display, pasted hashes, call traces."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clients.chain import normalise_tx_hash, value_transferred
from bot.clients.rpc import RpcUnavailable
from bot.services.payments.prices import format_eth, readable_wei, wei_for

HASH = "0x" + "ab12" * 16


# --- wei_for: ceil(usd / eth_usd * 1e18), exactly -------------------------------------
@pytest.mark.parametrize(
    ("usd", "eth_usd", "wei"),
    [
        ("4", "2000", 2 * 10**15),  # exact: not rounded up
        ("4", "3000", 1_333_333_333_333_334),  # 1333…333.33 rounds up
        ("4", "3000.12345678", 1_333_278_465_911_252),
        ("0.01", "123456.78901234", 81_000_000_730),  # 81000000729.37…
        ("10000", "0.00000001", 10**30),  # past 2^63: stored as TEXT
    ],
)
def test_wei_for_is_exact_and_rounds_up(usd: str, eth_usd: str, wei: int) -> None:
    assert wei_for(Decimal(usd), Decimal(eth_usd)) == wei


def test_wei_for_never_pays_less_than_the_price() -> None:
    for cents in range(1, 2000, 7):
        usd = Decimal(cents) / 100
        for eth_usd in (Decimal("1234.56789012"), Decimal("3333.33333333"), Decimal("0.5")):
            wei = wei_for(usd, eth_usd)
            assert Decimal(wei) * eth_usd >= usd * 10**18
            assert Decimal(wei - 1) * eth_usd < usd * 10**18


@pytest.mark.parametrize(("usd", "eth_usd"), [("0", "3000"), ("4", "0"), ("4", "-1")])
def test_wei_for_refuses_non_positive_prices(usd: str, eth_usd: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        wei_for(Decimal(usd), Decimal(eth_usd))


@pytest.mark.parametrize(
    ("wei", "text"),
    [
        (0, "0 ETH"),
        (1, "0.000000000000000001 ETH"),
        (10**18, "1 ETH"),
        (1_333_333_333_333_334, "0.001333333333333334 ETH"),
        (1_500_000_000_000_000_000, "1.5 ETH"),
        (12 * 10**18, "12 ETH"),
    ],
)
def test_format_eth_keeps_every_digit_that_matters(wei: int, text: str) -> None:
    assert format_eth(wei) == text


# --- pasted transaction hashes ---------------------------------------------------------
@pytest.mark.parametrize(
    "pasted",
    [
        HASH,
        HASH.upper().replace("0X", "0x"),
        "0X" + HASH[2:].upper(),
        f"  {HASH}\n",
        HASH[2:],
        f"https://basescan.org/tx/{HASH}",
        f"https://basescan.org/tx/{HASH}/",
        f"https://basescan.org/tx/{HASH}#eventlog",
        f"https://sepolia.basescan.org/tx/{HASH}?utm=x",
    ],
)
def test_hashes_are_normalised(pasted: str) -> None:
    assert normalise_tx_hash(pasted) == HASH


@pytest.mark.parametrize(
    "pasted",
    [
        "",
        "0x",
        HASH[:-1],
        HASH + "0",
        "0x" + "g" * 64,
        HASH.replace("0x", "0x "),
        f"https://basescan.org/address/{HASH}",
        f"{HASH} {HASH}",
    ],
)
def test_what_is_not_a_hash_is_none(pasted: str) -> None:
    assert normalise_tx_hash(pasted) is None


# --- call traces -------------------------------------------------------------------------
WALLET = "0x" + "11" * 20
TREASURY = "0x" + "22" * 20
OTHER = "0x" + "33" * 20


def call(frm: str, to: str, value: int, *children: dict[str, Any], **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "CALL", "from": frm, "to": to, "value": hex(value), **extra}
    if children:
        frame["calls"] = list(children)
    return frame


def test_transfers_from_the_wallet_to_the_treasury_are_summed_at_any_depth() -> None:
    trace = call(
        OTHER,
        WALLET,
        0,
        call(WALLET, TREASURY.upper().replace("0X", "0x"), 5),
        call(OTHER, OTHER, 0, call(WALLET, TREASURY, 7)),
        call(OTHER, TREASURY, 100),  # someone else paying
        call(WALLET, OTHER, 100),  # the wallet paying someone else
    )
    assert value_transferred(trace, WALLET.upper().replace("0X", "0x"), TREASURY) == 12


def test_failed_calls_and_everything_inside_them_do_not_count() -> None:
    trace = call(
        OTHER,
        WALLET,
        0,
        call(WALLET, TREASURY, 5, error="execution reverted"),
        call(OTHER, WALLET, 0, call(WALLET, TREASURY, 7), error="out of gas"),
        call(WALLET, TREASURY, 1),
    )
    assert value_transferred(trace, WALLET, TREASURY) == 1


def test_only_calls_move_value() -> None:
    trace = call(
        OTHER,
        WALLET,
        0,
        {"type": "DELEGATECALL", "from": WALLET, "to": TREASURY, "value": "0x5"},
        {"type": "STATICCALL", "from": WALLET, "to": TREASURY},
    )
    assert value_transferred(trace, WALLET, TREASURY) == 0


@pytest.mark.parametrize(
    "trace",
    [
        {"type": "CALL", "from": WALLET, "to": TREASURY, "value": "12"},
        {"type": "CALL", "from": WALLET, "to": TREASURY, "value": 12},
        {"type": "CALL", "calls": "nope"},
        {"type": "CALL", "calls": ["nope"]},
    ],
)
def test_a_malformed_trace_is_the_nodes_fault(trace: dict[str, Any]) -> None:
    with pytest.raises(RpcUnavailable):
        value_transferred(trace, WALLET, TREASURY)


# --- readable_wei: the quote a person reads, never below the exact price --------------
@given(
    usd=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2),
    eth_usd=st.decimals(min_value=Decimal(1), max_value=Decimal(100_000), places=8),
)
def test_a_quote_is_rounded_up_to_six_decimals(usd: Decimal, eth_usd: Decimal) -> None:
    exact = wei_for(usd, eth_usd)
    quoted = readable_wei(exact)
    assert quoted >= exact  # never below the USD price
    assert quoted - exact < 10**12  # the least rounding that reaches 6 decimals
    assert quoted % 10**12 == 0
    shown = format_eth(quoted).removesuffix(" ETH")
    assert len(shown.partition(".")[2]) <= 6
    assert Decimal(shown) * 10**18 == quoted  # what is shown is what must be paid


@pytest.mark.parametrize(
    ("wei", "quoted"),
    [
        (1_333_333_333_333_334, 1_334_000_000_000_000),  # $4 at $3000
        (2 * 10**15, 2 * 10**15),  # already readable: unchanged
        (1, 10**12),  # the smallest step
    ],
)
def test_readable_wei_examples(wei: int, quoted: int) -> None:
    assert readable_wei(wei) == quoted
