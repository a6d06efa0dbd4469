"""PriceFeed and Quoter against a Chainlink-like feed on a real node (anvil)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.clients.rpc import JsonRpcClient, RpcUnavailable
from bot.errors import ServiceUnavailable
from bot.services.payments.prices import PriceFeed, PriceFeedMisconfigured, PriceUnavailable, Quoter
from storage.db import Database
from tests.fakes.chain import DevChain, ScriptedRpcServer
from tests.fakes.chain.payment_chain import (
    REVERTING_CODE,
    MockFeed,
    PaymentContracts,
    payment_contracts,
)

__all__ = ["payment_contracts"]  # a fixture

# The address Chainlink's docs give for ETH / USD on Base mainnet (one of several that
# circulate; the bot checks whatever it is configured with).
CHAINLINK_BASE_ETH_USD = "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70"
WALLET = "0x000000000000000000000000000000000000bEEF"


@pytest.fixture
async def feed(chain: DevChain, payment_contracts: PaymentContracts) -> MockFeed:
    return await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000.12345678"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- check() -------------------------------------------------------------------------
async def test_a_real_looking_feed_passes_the_check_and_reads_exactly(
    rpc: JsonRpcClient, feed: MockFeed
) -> None:
    price_feed = PriceFeed(rpc, feed.address)
    await price_feed.check()
    assert await price_feed.eth_usd() == Decimal("3000.12345678")


async def test_the_feed_at_chainlinks_base_address(
    rpc: JsonRpcClient, chain: DevChain, payment_contracts: PaymentContracts
) -> None:
    await MockFeed.place(
        chain, payment_contracts.feed, CHAINLINK_BASE_ETH_USD, price=Decimal("2500")
    )
    price_feed = PriceFeed(rpc, CHAINLINK_BASE_ETH_USD)
    await price_feed.check()
    assert await price_feed.eth_usd() == Decimal("2500")


async def test_a_feed_of_another_pair_is_refused_naming_the_setting(
    rpc: JsonRpcClient, chain: DevChain, payment_contracts: PaymentContracts
) -> None:
    btc = await MockFeed.place(chain, payment_contracts.feed, description="BTC / USD")
    with pytest.raises(PriceFeedMisconfigured) as refused:
        await PriceFeed(rpc, btc.address).check()
    assert "CHAINLINK_ETH_USD_FEED" in str(refused.value)
    assert "'BTC / USD'" in str(refused.value)
    assert btc.address in str(refused.value)
    # The user is told something they can act on, without the operator's details.
    assert "misconfigured" in refused.value.message
    assert "BTC" not in refused.value.message


async def test_a_feed_with_other_decimals_is_refused(
    rpc: JsonRpcClient, chain: DevChain, payment_contracts: PaymentContracts
) -> None:
    eighteen = await MockFeed.place(chain, payment_contracts.feed, decimals=18)
    with pytest.raises(PriceFeedMisconfigured, match=r"CHAINLINK_ETH_USD_FEED .* 18 decimals"):
        await PriceFeed(rpc, eighteen.address).check()


async def test_an_address_without_code_is_refused(rpc: JsonRpcClient) -> None:
    with pytest.raises(PriceFeedMisconfigured, match=r"CHAINLINK_ETH_USD_FEED .* no contract"):
        await PriceFeed(rpc, WALLET).check()


async def test_a_contract_that_is_not_a_feed_is_refused(
    rpc: JsonRpcClient, chain: DevChain
) -> None:
    address = "0x00000000000000000000000000000000000fEed0"
    await chain.set_code(address, REVERTING_CODE)
    with pytest.raises(PriceFeedMisconfigured, match=r"reverts on description\(\)"):
        await PriceFeed(rpc, address).check()


async def test_reading_a_price_checks_the_feed_first(
    rpc: JsonRpcClient, chain: DevChain, payment_contracts: PaymentContracts
) -> None:
    btc = await MockFeed.place(chain, payment_contracts.feed, description="BTC / USD")
    with pytest.raises(PriceFeedMisconfigured):
        await PriceFeed(rpc, btc.address).eth_usd()


# --- readings ------------------------------------------------------------------------
async def test_a_stale_price_is_refused(rpc: JsonRpcClient, feed: MockFeed) -> None:
    price_feed = PriceFeed(rpc, feed.address, max_age=timedelta(hours=1))
    await feed.set_price(Decimal("3000"), updated_at=datetime.now(UTC) - timedelta(minutes=58))
    assert await price_feed.eth_usd() == Decimal("3000")

    await feed.set_price(Decimal("3000"), updated_at=datetime.now(UTC) - timedelta(minutes=61))
    with pytest.raises(PriceUnavailable) as refused:
        await price_feed.eth_usd()
    assert isinstance(refused.value, ServiceUnavailable)
    assert "looks stale" in refused.value.message
    assert "try again later" in refused.value.message


@pytest.mark.parametrize("answer", [0, -1, -300_000_000_000])
async def test_a_non_positive_price_is_refused(
    rpc: JsonRpcClient, feed: MockFeed, answer: int
) -> None:
    await feed.set_answer(answer)
    with pytest.raises(PriceUnavailable, match="no valid price"):
        await PriceFeed(rpc, feed.address).eth_usd()


async def test_staleness_uses_the_injected_clock(rpc: JsonRpcClient, feed: MockFeed) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(PriceUnavailable, match="stale"):
        await PriceFeed(rpc, feed.address, clock=lambda: later).eth_usd()


# --- the node is down ----------------------------------------------------------------
@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedRpcServer]:
    server = ScriptedRpcServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_node_not_listening_is_unavailable() -> None:
    async with aiohttp.ClientSession() as session:
        rpc = JsonRpcClient(f"http://127.0.0.1:{closed_port()}", session, timeout=1)
        price_feed = PriceFeed(rpc, CHAINLINK_BASE_ETH_USD)
        with pytest.raises(RpcUnavailable):
            await price_feed.check()
        with pytest.raises(ServiceUnavailable):
            await price_feed.eth_usd()


async def test_node_answering_garbage_is_unavailable(scripted: ScriptedRpcServer) -> None:
    scripted.raw(b"<html>502 Bad Gateway</html>", status=502)
    async with aiohttp.ClientSession() as session:
        rpc = JsonRpcClient(scripted.url, session, timeout=1)
        with pytest.raises(RpcUnavailable):
            await PriceFeed(rpc, CHAINLINK_BASE_ETH_USD).check()


async def test_a_node_refusing_calls_is_not_a_misconfigured_feed(
    scripted: ScriptedRpcServer,
) -> None:
    async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if body["method"] == "eth_getCode":
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x6000"})
        error = {"code": -32005, "message": "rate limit exceeded"}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})

    scripted.respond(answer)
    async with aiohttp.ClientSession() as session:
        rpc = JsonRpcClient(scripted.url, session, timeout=1)
        with pytest.raises(RpcUnavailable):
            await PriceFeed(rpc, CHAINLINK_BASE_ETH_USD).check()


async def test_latest_round_data_reverting_is_unavailable(
    rpc: JsonRpcClient, chain: DevChain, feed: MockFeed
) -> None:
    price_feed = PriceFeed(rpc, feed.address)
    await price_feed.check()
    await chain.set_code(feed.address, REVERTING_CODE)  # the feed breaks after the check
    with pytest.raises(PriceUnavailable, match="did not answer"):
        await price_feed.eth_usd()


# --- quotes --------------------------------------------------------------------------
async def test_a_quote_is_ceil_of_usd_over_price_and_is_stored(
    db: Database, rpc: JsonRpcClient, chain: DevChain, feed: MockFeed
) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    quoter = Quoter(db, PriceFeed(rpc, feed.address), Decimal("4"), clock=lambda: now)
    block = await chain.block_number()

    quote = await quoter.quote(WALLET, 42)

    # 4 USD at 3000.12345678 USD/ETH, in wei, rounded up (integers only), then up again
    # to what a person can read and type: at most 6 decimals of ETH.
    numerator, denominator = 4 * 10**18 * 10**8, 300_012_345_678
    exact = -(-numerator // denominator)
    assert exact == 1_333_278_465_911_252
    assert numerator % denominator != 0  # so rounding up mattered
    assert quote.wei == 1_334_000_000_000_000 >= exact
    assert (quote.usd, quote.eth_usd) == (Decimal("4"), Decimal("3000.12345678"))
    assert (quote.created_at, quote.expires_at) == (now, now + timedelta(minutes=15))
    assert quote.created_block == block
    assert (quote.wallet, quote.discord_user_id) == (WALLET, 42)
    assert await quoter.get(quote.id) == quote
    assert await quoter.get("nope") is None


async def test_an_exact_price_is_not_rounded_up(
    db: Database, rpc: JsonRpcClient, feed: MockFeed
) -> None:
    await feed.set_price(Decimal("2000"))
    quote = await Quoter(db, PriceFeed(rpc, feed.address), Decimal("4")).quote(WALLET, 42)
    assert quote.wei == 2 * 10**15


async def test_no_quote_is_stored_from_a_stale_price(
    db: Database, rpc: JsonRpcClient, feed: MockFeed
) -> None:
    await feed.set_price(Decimal("3000"), updated_at=datetime.now(UTC) - timedelta(hours=3))
    with pytest.raises(PriceUnavailable):
        await Quoter(db, PriceFeed(rpc, feed.address), Decimal("4")).quote(WALLET, 42)
    assert await db.fetchone("SELECT COUNT(*) AS n FROM payment_quotes") == {"n": 0}
