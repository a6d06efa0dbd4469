"""The payment page in a real headless Chromium: an injected EIP-1193 wallet whose
transactions go to a real Ethereum node (anvil), then the training starts from Discord."""

from __future__ import annotations

import io
import socket
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from eth_account import Account
from eth_utils.address import to_checksum_address
from PIL import Image
from playwright.async_api import Browser

from bot.services.payments.prices import format_eth
from tests.browser.test_link_page import ARTIFACTS, WALLET_SCRIPT, browser
from tests.e2e.conftest import BotHarness
from tests.e2e.test_train import (
    ALICE,
    CHANNEL,
    GREY,
    LINK,
    buttons,
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
from tests.support.gallery_rows import link_wallet

pytestmark = pytest.mark.browser

__all__ = ["anvil_node", "browser", "chain", "payment_contracts", "rpc", "services"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChainWallet:
    """The injected wallet: accounts and transactions are anvil's (its unlocked keys)."""

    def __init__(self, chain: DevChain, account: str, *, short_by: int = 0) -> None:
        self.chain = chain
        self.account = account
        self.calls: list[str] = []
        self.short_by = short_by  # the first payment sends this much less (then exact)
        self.sent: list[int] = []

    async def __call__(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account]}
        if method == "wallet_switchEthereumChain":
            assert params[0]["chainId"] == "0x2105"
            return {"result": None}
        if method == "eth_sendTransaction":
            tx = params[0]
            value = int(tx["value"], 16) - (0 if self.sent else self.short_by)
            self.sent.append(value)
            receipt = await self.chain.send_transaction(to=tx["to"], value=value, sender=tx["from"])
            return {"result": receipt.transaction_hash}
        return {"error": {"code": 4200, "message": f"unsupported {method}"}}


async def test_paying_from_the_browser_then_training(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    browser: Browser,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("2500"))
    account = (await chain.accounts())[9]
    treasury = Account.create().address
    port = free_port()
    async with training_bot(
        harness,
        services,
        base_rpc_url=anvil_node.url,
        treasury_address=treasury,
        chainlink_eth_usd_feed=feed.address,
        payment_confirmations=1,
        http_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
    ) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(account))
        shown = await preview(emulator)
        # The page is the one primary action; pasting a hash stays possible, in grey.
        assert styles(shown) == {
            "Pay with a wallet": LINK,
            "I've paid — paste the hash": GREY,
        }
        assert "Check payment" not in buttons(shown)  # nothing is under way yet
        assert "Press **Pay with a wallet**" in shown["embeds"][0]["description"]
        pay_url = next(
            c["url"] for row in shown["components"] for c in row["components"] if c.get("url")
        )
        wallet = ChainWallet(chain, account)
        page = await browser.new_page()
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "false"))
        await page.goto(pay_url)
        await page.get_by_role("button", name="Pay with Test Wallet").click()
        outcome = page.locator("#result.ok")
        await outcome.wait_for(state="visible", timeout=20_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "pay-page-success.png"), full_page=True)
        assert "Payment verified: the training is starting" in (await outcome.text_content() or "")
        assert wallet.calls == [
            "eth_requestAccounts",
            "wallet_switchEthereumChain",
            "eth_sendTransaction",
        ]
        balance = await chain.rpc.call("eth_getBalance", [treasury, "latest"])
        assert int(balance, 16) > 0
        # No button to press in Discord: the training starts by itself, and the preview
        # (the /train response, edited through its interaction token) says so.
        told = await mention(emulator)
        card = card_of(emulator, told)  # the mention replies to the progress card
        assert card["embeds"][0]["title"] == "Trained mystyle"
        followed = emulator.message(shown["id"])
        assert followed["embeds"] == [] and not followed.get("components")
        assert not followed.get("attachments")  # the payment's QR code is done with
        assert "Training started: 6 images" in followed["content"]
        (only,) = [
            m
            for m in emulator.channel_messages(CHANNEL)
            if m.get("embeds") and m["embeds"][0]["title"] == "Trained mystyle"
        ]
        assert only["id"] == card["id"]  # one card, the one the mention replies to
        assert f"/{CHANNEL}/{card['id']}" in followed["content"]  # a link to the progress card
        assert await bot.services.credits.available(ALICE) == []
        assert emulator.violations == []


async def test_a_short_payment_is_topped_up_from_the_page(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    browser: Browser,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
    """The wallet sends less than asked (a careless edit of the amount): the page says
    what is missing and offers to send the rest; the second transaction completes it."""
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("2500"))
    account = (await chain.accounts())[9]
    treasury = Account.create().address
    port = free_port()
    async with training_bot(
        harness,
        services,
        base_rpc_url=anvil_node.url,
        treasury_address=treasury,
        chainlink_eth_usd_feed=feed.address,
        payment_confirmations=1,
        http_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
    ) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(account))
        shown = await preview(emulator)
        pay_url = next(
            c["url"] for row in shown["components"] for c in row["components"] if c.get("url")
        )
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        wei = int(quote["wei"])
        wallet = ChainWallet(chain, account, short_by=wei // 4)
        page = await browser.new_page()
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "false"))
        await page.goto(pay_url)
        await page.get_by_role("button", name="Pay with Test Wallet").click()
        partial = page.locator("#result.partial")
        await partial.wait_for(state="visible", timeout=20_000)
        assert "Still missing" in (await partial.text_content() or "")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "pay-page-partial.png"), full_page=True)
        # Discord's preview follows: what is missing, and a QR code that asks for it
        # (the one sent with the preview asked for the whole price).
        followed = emulator.message(shown["id"])
        assert "Still missing" in followed["content"]
        (qr_file,) = followed["attachments"]
        assert qr_file["filename"] == "payment-qr.png"
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(emulator.attachment_bytes(qr_file))))
        assert [found.text for found in decoded] == [f"ethereum:{treasury}@8453?value={wei // 4}"]
        await page.get_by_role("button", name="Send the rest").click()
        await page.get_by_role("button", name="Pay with Test Wallet").click()
        outcome = page.locator("#result.ok")
        await outcome.wait_for(state="visible", timeout=20_000)
        assert wallet.sent == [wei - wei // 4, wei // 4]  # the page asked for the rest
        told = await mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        payments = await bot.db.fetchall("SELECT credit_id FROM payments")
        assert len(payments) == 2 and len({p["credit_id"] for p in payments}) == 1
        assert await bot.services.credits.available(ALICE) == []


async def test_a_part_whose_quote_expired_is_named_before_any_wallet_is_asked(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    browser: Browser,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
    """A part was paid, then the quote ran out: the page does not claim nothing was
    charged; it names the part and how to get it back, and asks no wallet."""
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("2500"))
    account = (await chain.accounts())[9]
    port = free_port()
    async with training_bot(
        harness,
        services,
        base_rpc_url=anvil_node.url,
        treasury_address=Account.create().address,
        chainlink_eth_usd_feed=feed.address,
        payment_confirmations=1,
        http_port=port,
        public_base_url=f"http://127.0.0.1:{port}",
    ) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(account))
        shown = await preview(emulator)
        pay_url = next(
            c["url"] for row in shown["components"] for c in row["components"] if c.get("url")
        )
        quote = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        wei = int(quote["wei"])
        wallet = ChainWallet(chain, account, short_by=wei // 4)
        page = await browser.new_page()
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "false"))
        await page.goto(pay_url)
        await page.get_by_role("button", name="Pay with Test Wallet").click()
        await page.locator("#result.partial").wait_for(state="visible", timeout=20_000)
        calls = list(wallet.calls)
        await bot.db.execute("UPDATE payment_quotes SET expires_at = '2020-01-01T00:00:00.000Z'")

        await page.reload()
        dead = page.locator("#dead")
        await dead.wait_for(state="visible", timeout=5_000)
        text = await dead.text_content() or ""
        assert "expired before the rest arrived" in text
        assert format_eth(wei - wei // 4) in text and "grant-credit" in text
        assert "nothing was charged" not in text
        await page.wait_for_timeout(600)  # past the wallet-discovery delay
        assert wallet.calls == calls  # the reloaded page asked the wallet nothing
        for hidden in ("#wallets", "#any-wallet", "#summary"):
            assert not await page.locator(hidden).is_visible(), hidden
        assert emulator.violations == []
