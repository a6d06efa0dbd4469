"""The /train preview and paying, end to end: the real bot and discord.py against the
emulator, a real Ethereum node (anvil), and the payment page's POST path over HTTP (the
browser test drives the same path from a real page)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from bot.services.payments.prices import format_eth
from tests.e2e.conftest import BotHarness
from tests.e2e.test_train import (
    ALICE,
    CHANNEL,
    GREY,
    LINK,
    PRIMARY,
    card_of,
    mention,
    preview,
    services,
    styles,
    training_bot,
)
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator
from tests.support.gallery_rows import WALLET_A, link_wallet

__all__ = ["anvil_node", "chain", "payment_contracts", "rpc", "services"]  # fixtures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Shop:
    """A bot that takes payments on anvil and serves its payment page on `port`."""

    settings: dict[str, Any]
    wallet: str
    treasury: str
    port: int

    async def report(self, order_id: str, tx_hash: str) -> dict[str, Any]:
        """What the payment page does once the wallet sent the transaction."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{self.port}/pay/{order_id}", json={"tx_hash": tx_hash}
            ) as answer,
        ):
            body: dict[str, Any] = await answer.json()
            return {"http": answer.status, **body}

    async def details(self, order_id: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{self.port}/pay/{order_id}/details") as answer,
        ):
            body: dict[str, Any] = await answer.json()
            return body


@pytest.fixture
async def shop(anvil_node: AnvilNode, chain: DevChain, payment_contracts: PaymentContracts) -> Shop:
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
    port = free_port()
    treasury = Account.create().address
    return Shop(
        settings={
            "base_rpc_url": anvil_node.url,
            "treasury_address": treasury,
            "chainlink_eth_usd_feed": feed.address,
            "payment_confirmations": 2,
            "http_port": port,
            "public_base_url": f"http://127.0.0.1:{port}",
        },
        wallet=(await chain.accounts())[8],
        treasury=treasury,
        port=port,
    )


def order_of(shown: dict[str, Any]) -> str:
    url = next(c["url"] for row in shown["components"] for c in row["components"] if c.get("url"))
    return str(url.rsplit("/", 1)[1])


def cards(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    return [
        m
        for m in emulator.channel_messages(CHANNEL)
        if not m.get("content") and m.get("embeds") and not m["flags"] & 64
    ]


async def test_the_preview_shows_four_images_as_one_gallery(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
    embeds = shown["embeds"]
    assert len(embeds) == 4  # the channel has 6 images: the first four are shown
    assert len({e["url"] for e in embeds}) == 1  # one url: Discord groups them as a gallery
    images = [e["image"]["url"] for e in embeds]
    assert len(set(images)) == 4 and all(images)
    assert embeds[0]["title"].startswith("Train “mystyle”")
    # An admin wallet: one button, Start training.
    assert styles(shown) == {"Start training": PRIMARY}
    assert "Free (admin wallet)" in embeds[0]["description"]


async def test_a_credit_preview_offers_only_start_training(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator)
    assert styles(shown) == {"Start training": PRIMARY}
    assert "Uses your training credit" in shown["embeds"][0]["description"]


async def test_the_payment_page_starts_the_training_and_the_preview_follows(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    chain: DevChain,
    shop: Shop,
) -> None:
    async with training_bot(harness, services, **shop.settings) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(shop.wallet))
        shown = await preview(emulator)
        assert styles(shown) == {
            "Pay with a wallet": LINK,
            "I've paid — paste the hash": GREY,
        }
        order = order_of(shown)
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        wei = int(quote["wei"])
        assert (await shop.details(order))["value"] == hex(wei)

        # More than the quote: accepted (anything at least the quote is).
        paid = await chain.send_transaction(to=shop.treasury, value=wei + 7, sender=shop.wallet)
        seen = await shop.report(order, paid.transaction_hash)
        assert seen["status"] == "pending" and "confirmations" in seen["message"]
        # The page reported a sent transaction: the preview now offers Check payment.
        under_way = emulator.message(shown["id"])
        # (and no second "Pay": that would pay twice)
        assert styles(under_way) == {"Check payment": PRIMARY, "I've paid — paste the hash": GREY}
        assert "starts by itself" in under_way["content"]
        assert under_way["embeds"] == shown["embeds"]  # the price stays in view

        await chain.mine(2)
        done = await shop.report(order, paid.transaction_hash)
        assert done["status"] == "verified"
        assert "the training is starting" in done["message"]
        told = await mention(emulator)  # nobody pressed anything in Discord
        card = card_of(emulator, told)  # the mention replies to the progress card
        assert card["embeds"][0]["title"] == "Trained mystyle"
        assert [c["id"] for c in cards(emulator)] == [card["id"]]
        followed = emulator.message(shown["id"])
        assert "Training started: 6 images" in followed["content"]
        assert f"/{CHANNEL}/{card['id']}" in followed["content"]
        assert followed["embeds"] == [] and not followed.get("components")
        assert await bot.services.credits.available(ALICE) == []

        # The page asked again (a reload, a retry): nothing new, nothing twice.
        again = await shop.report(order, paid.transaction_hash)
        assert again["status"] == "verified" and "has started" in again["message"]
        # A careless second payment for the started order: kept as a visible credit.
        twice = await chain.send_transaction(to=shop.treasury, value=wei, sender=shop.wallet)
        await chain.mine(2)
        kept = await shop.report(order, twice.transaction_hash)
        assert kept["status"] == "verified" and "credit waits" in kept["message"]
        (credit,) = await bot.services.credits.available(ALICE)
        assert credit.source == "payment"
        rows = await bot.db.fetchall("SELECT COUNT(*) AS n FROM lora_trainings")
        assert rows == [{"n": 1}]
        assert emulator.violations == []


async def test_after_a_restart_the_page_still_starts_the_training(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    chain: DevChain,
    shop: Shop,
) -> None:
    """The restarted bot no longer holds the preview's interaction token (kept in memory
    only): the preview cannot be edited, but the training starts and its progress card
    and mention appear in the channel."""
    async with training_bot(harness, services, **shop.settings) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(shop.wallet))
        shown = await preview(emulator)
    order = order_of(shown)
    async with training_bot(harness, services, **shop.settings) as bot:
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        paid = await chain.send_transaction(
            to=shop.treasury, value=int(quote["wei"]), sender=shop.wallet
        )
        await chain.mine(2)
        done = await shop.report(order, paid.transaction_hash)
        assert done["status"] == "verified", done
        told = await mention(emulator)
        card = card_of(emulator, told)
        assert card["embeds"][0]["title"] == "Trained mystyle"
        assert [c["id"] for c in cards(emulator)] == [card["id"]]
        assert emulator.message(shown["id"])["embeds"] == shown["embeds"]  # not edited
        assert emulator.violations == []


async def test_an_underpayment_topped_up_from_the_page(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    chain: DevChain,
    shop: Shop,
) -> None:
    async with training_bot(harness, services, **shop.settings) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(shop.wallet))
        shown = await preview(emulator)
        order = order_of(shown)
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        wei = int(quote["wei"])
        part = await chain.send_transaction(to=shop.treasury, value=wei // 2, sender=shop.wallet)
        await chain.mine(2)
        answer = await shop.report(order, part.transaction_hash)
        assert answer["status"] == "partial"
        missing = wei - wei // 2
        assert f"Still missing: {format_eth(missing)}." in answer["message"]
        topped = emulator.message(shown["id"])
        assert "Still missing" in topped["content"]
        assert styles(topped) == {
            "Pay the rest with a wallet": LINK,
            "I've paid — paste the hash": GREY,
        }
        # The page now asks for what is missing, and a second transaction completes it.
        details = await shop.details(order)
        assert int(details["value"], 16) == missing and details["rest"] is True
        rest = await chain.send_transaction(
            to=shop.treasury, value=int(details["value"], 16), sender=shop.wallet
        )
        await chain.mine(2)
        done = await shop.report(order, rest.transaction_hash)
        assert done["status"] == "verified"
        told = await mention(emulator)
        card = card_of(emulator, told)
        assert card["embeds"][0]["title"] == "Trained mystyle"
        assert [c["id"] for c in cards(emulator)] == [card["id"]]
        assert await bot.services.credits.available(ALICE) == []
        spent = await bot.db.fetchall("SELECT DISTINCT credit_id FROM payments")
        assert len(spent) == 1 and spent[0]["credit_id"] is not None
        await asyncio.sleep(0)
        assert emulator.violations == []


async def test_a_replayed_or_reused_transaction_pays_nothing(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, chain: DevChain, shop: Shop
) -> None:
    """Someone else's payment reported on this order, and one payment reported for two
    orders: refused, nothing recorded twice."""
    stranger = (await chain.accounts())[7]
    async with training_bot(harness, services, **shop.settings) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(shop.wallet))
        shown = await preview(emulator)
        order = order_of(shown)
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        theirs = await chain.send_transaction(
            to=shop.treasury, value=int(quote["wei"]), sender=stranger
        )
        await chain.mine(2)
        refused = await shop.report(order, theirs.transaction_hash)
        assert refused["http"] == 400 and "not from your linked wallet" in refused["error"]
        assert await bot.db.fetchall("SELECT id FROM payments") == []

        mine = await chain.send_transaction(
            to=shop.treasury, value=int(quote["wei"]), sender=shop.wallet
        )
        await chain.mine(2)
        assert (await shop.report(order, mine.transaction_hash))["status"] == "verified"
        await mention(emulator)
        second = order_of(await preview(emulator))
        reused = await shop.report(second, mine.transaction_hash)
        assert reused["http"] == 400 and "already" in reused["error"]
        assert len(await bot.db.fetchall("SELECT id FROM payments")) == 1
        assert len(await bot.db.fetchall("SELECT id FROM training_credits")) == 1
