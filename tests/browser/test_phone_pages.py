"""The signing and payment pages on a phone (Chromium's mobile emulation: 390x844, an
iPhone user agent, touch): without an injected wallet they offer wallet-app links
first, the payment page shows the EIP-681 request as a link and a QR code (decoded
here with zxing-cpp from a screenshot of what the browser drew), both name the
Discord user and server, and a dead link says so without asking any wallet."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import zxingcpp
from eth_account import Account
from eth_utils.address import to_checksum_address
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page

from bot.services.payments.prices import format_eth
from tests.browser.test_link_page import (
    ARTIFACTS,
    DISCOVERY_COUNTER,
    WALLET_SCRIPT,
    Wallet,
    browser,
    free_port,
    link_url,
)
from tests.browser.test_pay_page import ChainWallet
from tests.e2e.conftest import BotHarness
from tests.e2e.test_train import ALICE, preview, services, training_bot
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator
from tests.support.gallery_rows import link_wallet

__all__ = ["anvil_node", "browser", "chain", "payment_contracts", "rpc", "services"]

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
SERVER = "Emulated Guild"  # the Discord emulator's guild 1


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        user_agent=IPHONE_UA,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        yield context
    finally:
        await context.close()


async def app_links(page: Page) -> dict[str, str]:
    links = page.locator("#app-list a")
    return {
        (await links.nth(i).text_content() or "").removeprefix("Open in "): str(
            await links.nth(i).get_attribute("href")
        )
        for i in range(await links.count())
    }


def check_wallet_links(links: dict[str, str], page_url: str) -> None:
    """Each link carries the page URL exactly as that wallet's documentation asks."""
    assert list(links)[:2] == ["MetaMask", "Coinbase Wallet"], links
    assert set(links) == {"MetaMask", "Coinbase Wallet", "Trust Wallet", "OKX Wallet", "Phantom"}
    assert links["MetaMask"] == "https://link.metamask.io/dapp/" + page_url.split("://", 1)[1]
    coinbase = urlsplit(links["Coinbase Wallet"])
    assert (coinbase.netloc, coinbase.path) == ("go.cb-w.com", "/dapp")
    assert parse_qs(coinbase.query) == {"cb_url": [page_url]}
    assert "%3A%2F%2F" in coinbase.query  # percent-encoded, not raw
    trust = urlsplit(links["Trust Wallet"])
    assert (trust.netloc, trust.path) == ("link.trustwallet.com", "/open_url")
    assert parse_qs(trust.query) == {"coin_id": ["60"], "url": [page_url]}
    okx = urlsplit(links["OKX Wallet"])
    (deep,) = parse_qs(okx.query)["deeplink"]
    assert parse_qs(urlsplit(deep).query)["dappUrl"] == [page_url]
    phantom = urlsplit(links["Phantom"])
    assert unquote(phantom.path.removeprefix("/ul/browse/")) == page_url
    site = urlsplit(page_url)
    assert parse_qs(phantom.query)["ref"] == [f"{site.scheme}://{site.netloc}"]


async def is_above(page: Page, first: str, second: str) -> bool:
    a = await page.locator(first).bounding_box()
    b = await page.locator(second).bounding_box()
    assert a is not None and b is not None
    return a["y"] + a["height"] <= b["y"]


async def test_signing_page_on_a_phone_offers_wallet_apps_first(
    harness: BotHarness, emulator: DiscordEmulator, phone: BrowserContext
) -> None:
    port = free_port()
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
        url = await link_url(emulator)
        page = await phone.new_page()
        await page.goto(url)
        apps = page.locator("#open-in-app")
        await apps.wait_for(state="visible", timeout=5_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "link-page-phone.png"), full_page=True)
        assert await page.evaluate("window.innerWidth") == 390
        check_wallet_links(await app_links(page), url)
        # First: above the explanation of the other ways, and in the first screenful.
        assert await page.locator("#no-wallet").is_visible()
        assert await is_above(page, "#open-in-app", "#no-wallet")
        box = await page.locator("#app-list a").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844
        assert await page.locator("#for").text_content() == (
            f"For @alice in the Discord server “{SERVER}”."
        )
        assert "Sign elsewhere" in (await page.locator("#no-wallet").text_content() or "")


async def test_a_touch_screen_with_a_narrow_viewport_counts_as_a_phone(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    # iPadOS and some Android browsers send a desktop user agent.
    context = await browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    port = free_port()
    try:
        async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
            url = await link_url(emulator)
            page = await context.new_page()
            await page.goto(url)
            await page.locator("#open-in-app").wait_for(state="visible", timeout=5_000)
            assert "Mobi" not in await page.evaluate("navigator.userAgent")
            check_wallet_links(await app_links(page), url)
    finally:
        await context.close()


async def test_signing_page_in_a_wallet_apps_browser_connects_instead(
    harness: BotHarness, emulator: DiscordEmulator, phone: BrowserContext
) -> None:
    port = free_port()
    key = Account.create()
    wallet = Wallet(key)
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
        url = await link_url(emulator)
        page = await phone.new_page()
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "true"))
        await page.goto(url)
        await page.get_by_role("button", name="Connect Test Wallet").click()
        await page.locator("#result.ok").wait_for(state="visible", timeout=15_000)
        assert not await page.locator("#open-in-app").is_visible()
        assert wallet.calls == ["eth_requestAccounts", "personal_sign"]


async def test_a_dead_signing_link_on_a_phone_asks_no_wallet(
    harness: BotHarness, emulator: DiscordEmulator, phone: BrowserContext
) -> None:
    port = free_port()
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}") as bot:
        expired = await link_url(emulator)
        await bot.db.execute(
            "UPDATE siwe_challenges SET expires_at = '2020-01-01T00:00:00.000Z' WHERE token = ?",
            (expired.rsplit("/", 1)[1],),
        )
        for injected in (False, True):
            wallet = Wallet(Account.create())
            page = await phone.new_page()
            await page.expose_function("pyWallet", wallet)
            await page.add_init_script(
                WALLET_SCRIPT.replace("INJECT_LEGACY", "true" if injected else "false")
            )
            await page.add_init_script(DISCOVERY_COUNTER)
            await page.goto(expired)
            notice = page.locator("#dead")
            await notice.wait_for(state="visible", timeout=5_000)
            await page.wait_for_timeout(600)  # past the wallet-discovery delay
            if not injected:
                await page.screenshot(
                    path=str(ARTIFACTS / "link-page-phone-expired.png"), full_page=True
                )
            assert "expired" in (await notice.text_content() or "")
            assert wallet.calls == []
            assert await page.evaluate("window.discoveryRequests") == 0
            for hidden in ("#open-in-app", "#no-wallet", "#wallets", "#for"):
                assert not await page.locator(hidden).is_visible(), hidden
            await page.close()


async def decode_qr(page: Page, selector: str) -> list[str]:
    shot = await page.locator(selector).screenshot()
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))]


async def test_payment_page_on_a_phone_shows_apps_link_and_qr(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    browser: Browser,
    phone: BrowserContext,
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
        row = await bot.db.fetchone("SELECT wei FROM payment_quotes")
        assert row is not None
        wei = int(row["wei"])
        request = f"ethereum:{treasury}@8453?value={wei}"

        # Discord: amount, treasury and request are copyable content; the QR attached.
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "train-preview-payment.json").write_text(json.dumps(shown, indent=2))
        content = shown["content"]
        assert len(content) <= 2000
        for copyable in (format_eth(wei).removesuffix(" ETH"), treasury, request):
            assert f"```\n{copyable}\n```" in content, (copyable, content)
        (qr_file,) = shown["attachments"]
        assert qr_file["filename"] == "payment-qr.png"
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(emulator.attachment_bytes(qr_file))))
        assert [found.text for found in decoded] == [request]
        pay_url = next(
            c["url"] for r in shown["components"] for c in r["components"] if c.get("url")
        )

        page = await phone.new_page()
        await page.goto(pay_url)
        any_wallet = page.locator("#any-wallet")
        await any_wallet.wait_for(state="visible", timeout=5_000)
        await page.wait_for_function(
            "(() => { const img = document.getElementById('qr');"
            " return img.complete && img.naturalWidth > 0; })()",
            timeout=5_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "pay-page-phone.png"), full_page=True)
        assert await page.locator("#open-in-app").is_visible()
        assert await is_above(page, "#open-in-app", "#any-wallet")
        check_wallet_links(await app_links(page), pay_url)
        assert await page.locator("#request-link").get_attribute("href") == request
        assert await decode_qr(page, "#qr") == [request]
        assert await page.locator("#copy-treasury").text_content() == treasury
        assert await page.locator("#for").text_content() == (
            f"For @alice in the Discord server “{SERVER}”."
        )

        # A desktop browser without a wallet: the QR code to scan with a phone, and no
        # wallet-app links (they only work on the phone itself).
        desktop = await browser.new_page()
        await desktop.goto(pay_url)
        await desktop.locator("#any-wallet").wait_for(state="visible", timeout=5_000)
        await desktop.wait_for_function(
            "(() => { const img = document.getElementById('qr');"
            " return img.complete && img.naturalWidth > 0; })()",
            timeout=5_000,
        )
        assert not await desktop.locator("#open-in-app").is_visible()
        assert await decode_qr(desktop, "#qr") == [request]
        await desktop.screenshot(path=str(ARTIFACTS / "pay-page-desktop-no-wallet.png"))


async def test_a_dead_payment_link_on_a_phone_asks_no_wallet(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    phone: BrowserContext,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
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
        cases = {}
        for name in ("expired", "cancelled"):
            shown = await preview(emulator)
            cases[name] = next(
                c["url"] for r in shown["components"] for c in r["components"] if c.get("url")
            )
        order = {name: url.rsplit("/", 1)[1] for name, url in cases.items()}
        await bot.db.execute(
            "UPDATE payment_quotes SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = "
            "(SELECT quote_id FROM training_orders WHERE id = ?)",
            (order["expired"],),
        )
        await bot.db.execute(
            "UPDATE training_orders SET status = 'cancelled' WHERE id = ?", (order["cancelled"],)
        )
        reasons = {"expired": "expired", "cancelled": "not valid any more"}
        for name, url in cases.items():
            wallet = ChainWallet(chain, account)
            page = await phone.new_page()
            await page.expose_function("pyWallet", wallet)
            await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "true"))
            await page.add_init_script(DISCOVERY_COUNTER)
            await page.goto(url)
            notice = page.locator("#dead")
            await notice.wait_for(state="visible", timeout=5_000)
            await page.wait_for_timeout(600)  # past the wallet-discovery delay
            await page.screenshot(
                path=str(ARTIFACTS / f"pay-page-phone-{name}.png"), full_page=True
            )
            assert reasons[name] in (await notice.text_content() or ""), name
            assert wallet.calls == [], name
            assert await page.evaluate("window.discoveryRequests") == 0, name
            for hidden in ("#wallets", "#open-in-app", "#any-wallet", "#for", "#summary"):
                assert not await page.locator(hidden).is_visible(), (name, hidden)
            await page.close()
