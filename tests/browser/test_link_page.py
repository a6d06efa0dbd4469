"""The signing page in a real headless Chromium (Debian's), driven by Playwright, with
an injected EIP-1193 wallet whose signatures come from a throwaway key in Python."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import private_answer
from tests.support.chromium import CHROMIUM_FLAGS, chromium_path

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

# An EIP-6963 wallet (and optionally window.ethereum) whose requests go to Python.
WALLET_SCRIPT = """
(() => {
  const provider = {
    request: ({ method, params }) => window.pyWallet(method, params || []).then((r) => {
      if (r && r.error) { const e = new Error(r.error.message); e.code = r.error.code; throw e; }
      return r.result;
    }),
  };
  const info = { uuid: "0b1c2d3e-test", name: "Test Wallet", rdns: "test.wallet",
    icon: "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnLz4=" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  if (INJECT_LEGACY) window.ethereum = provider;
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = chromium_path()
    async with async_playwright() as p:
        # Never let Playwright download a browser: use the system one.
        launched = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


class Wallet:
    """What the injected provider calls: accounts and personal_sign from a local key."""

    def __init__(self, key: LocalAccount, *, refuse_signing: bool = False) -> None:
        self.key = key
        self.refuse_signing = refuse_signing
        self.calls: list[str] = []

    async def __call__(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.key.address.lower()]}
        if method == "personal_sign":
            if self.refuse_signing:
                return {"error": {"code": 4001, "message": "User rejected the request."}}
            message_hex, address = params
            assert address.lower() == self.key.address.lower()
            signed = self.key.sign_message(encode_defunct(hexstr=message_hex))
            return {"result": "0x" + signed.signature.hex().removeprefix("0x")}
        return {"error": {"code": 4200, "message": f"unsupported {method}"}}


async def open_link_page(
    browser: Browser, emulator: DiscordEmulator, wallet: Wallet | None, *, legacy: bool = False
) -> tuple[Page, dict[str, Any]]:
    ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
    original = await ix.original()
    url = next(
        c["url"] for row in original["components"] for c in row["components"] if c.get("url")
    )
    page = await browser.new_page()
    if wallet is not None:
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(
            WALLET_SCRIPT.replace("INJECT_LEGACY", "true" if legacy else "false")
        )
    await page.goto(url)
    return page, original


async def test_signing_page_links_with_a_browser_wallet(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    port = free_port()
    key = Account.create()
    wallet = Wallet(key)
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
        page, original = await open_link_page(browser, emulator, wallet)
        await page.get_by_role("button", name="Connect Test Wallet").click()
        result = page.locator("#result")
        await result.wait_for(state="visible", timeout=15_000)
        text = await result.text_content()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "link-page-success.png"), full_page=True)
        assert (
            text
            == f"Linked {key.address[:6]}…{key.address[-4:]}. You can close this tab and go back to Discord."
        )
        assert await result.get_attribute("class") == "ok"
        assert not await page.locator("#retry").is_visible()
        assert not await page.locator("#wallets").is_visible()
        assert wallet.calls == ["eth_requestAccounts", "personal_sign"]
        # The message the wallet signed is shown to the user, verbatim.
        assert key.address in (await page.locator("#message-text").text_content() or "")
        await emulator.wait_until(
            lambda: "Linked" in str(emulator.message(original["id"]).get("embeds")),
            what="the Discord message to be edited",
        )
        status = await private_answer(
            await emulator.run_command("wallet status", user_id=42, channel_id=7)
        )
        assert key.address in status["embeds"][0]["description"]


async def test_signing_page_without_a_wallet_explains_the_manual_way(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    port = free_port()
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
        page, _ = await open_link_page(browser, emulator, None)
        notice = page.locator("#no-wallet")
        await notice.wait_for(state="visible", timeout=5_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "link-page-no-wallet.png"), full_page=True)
        # The Discord button is named for its first step now: it asks for the address.
        shown = await notice.text_content() or ""
        assert "Sign elsewhere" in shown and "Paste signature" not in shown
        assert "No browser wallet found" in shown
        # A desktop browser gets no wallet-app links (those are for phones).
        assert not await page.locator("#open-in-app").is_visible()


async def test_signing_page_reports_a_refusal_and_the_legacy_provider_works(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    port = free_port()
    key = Account.create()
    wallet = Wallet(key, refuse_signing=True)
    async with harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"):
        page, _ = await open_link_page(browser, emulator, wallet, legacy=True)
        await page.get_by_role("button", name="Connect Test Wallet").click()
        result = page.locator("#result.error")
        await result.wait_for(state="visible", timeout=15_000)
        assert "declined" in (await result.text_content() or "")
        # The same link still works once the user agrees.
        wallet.refuse_signing = False
        await page.get_by_role("button", name="Try again").click()
        await page.get_by_role("button", name="Connect Test Wallet").click()
        await page.locator("#result.ok").wait_for(state="visible", timeout=15_000)


# Counts EIP-6963 discovery requests: a dead link's page must not even look for wallets.
DISCOVERY_COUNTER = """
window.discoveryRequests = 0;
window.addEventListener("eip6963:requestProvider", () => { window.discoveryRequests += 1; });
"""


async def link_url(emulator: DiscordEmulator) -> str:
    ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
    original = await ix.original()
    return str(
        next(c["url"] for row in original["components"] for c in row["components"] if c.get("url"))
    )


async def test_a_dead_link_says_so_before_any_wallet_is_asked(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = Account.create()
    async with (
        harness.running(http_port=port, public_base_url=base) as bot,
        aiohttp.ClientSession() as http,
    ):
        used = await link_url(emulator)
        async with http.get(f"{used}/message", params={"address": key.address}) as r:
            text = (await r.json())["message"]
        signed = key.sign_message(encode_defunct(text=text)).signature.hex()
        async with http.post(used, json={"signature": "0x" + signed.removeprefix("0x")}) as r:
            assert r.status == 200
        expired = await link_url(emulator)
        await bot.db.execute(
            "UPDATE siwe_challenges SET expires_at = '2020-01-01T00:00:00.000Z' WHERE token = ?",
            (expired.rsplit("/", 1)[1],),
        )
        exhausted = await link_url(emulator)
        async with http.get(f"{exhausted}/message", params={"address": key.address}) as r:
            text = (await r.json())["message"]
        wrong = Account.create().sign_message(encode_defunct(text=text)).signature.hex()
        for _ in range(5):
            async with http.post(exhausted, json={"signature": "0x" + wrong.removeprefix("0x")}):
                pass
        cases = {
            "unknown": (f"{base}/link/{'A' * 32}", "not valid"),
            "used": (used, "already used"),
            "expired": (expired, "expired"),
            "exhausted": (exhausted, "too many attempts"),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        for name, (url, reason) in cases.items():
            wallet = Wallet(key)
            page = await browser.new_page()
            await page.expose_function("pyWallet", wallet)
            await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "true"))
            await page.add_init_script(DISCOVERY_COUNTER)
            await page.goto(url)
            notice = page.locator("#dead")
            await notice.wait_for(state="visible", timeout=5_000)
            await page.wait_for_timeout(600)  # past the wallet-discovery delay
            await page.screenshot(
                path=str(ARTIFACTS / f"link-page-dead-{name}.png"), full_page=True
            )
            shown = await notice.text_content() or ""
            assert reason in shown and "/wallet link" in shown, (name, shown)
            assert wallet.calls == [], name
            assert await page.evaluate("window.discoveryRequests") == 0, name
            for hidden in ("#wallets", "#no-wallet", "#retry", "#lead", "#progress"):
                assert not await page.locator(hidden).is_visible(), (name, hidden)
            await page.close()


async def test_the_page_shows_the_rate_limit(
    harness: BotHarness, emulator: DiscordEmulator, browser: Browser
) -> None:
    port = free_port()
    key = Account.create()
    wallet = Wallet(key)
    async with (
        harness.running(http_port=port, public_base_url=f"http://127.0.0.1:{port}"),
        aiohttp.ClientSession() as http,
    ):
        url = await link_url(emulator)
        for _ in range(20):  # this address's whole minute
            async with http.get(f"{url}/status") as r:
                assert r.status == 200
        page = await browser.new_page()
        await page.expose_function("pyWallet", wallet)
        await page.add_init_script(WALLET_SCRIPT.replace("INJECT_LEGACY", "false"))
        await page.goto(url)
        result = page.locator("#result.error")
        await result.wait_for(state="visible", timeout=5_000)
        await page.screenshot(path=str(ARTIFACTS / "link-page-rate-limited.png"), full_page=True)
        assert "Too many requests" in (await result.text_content() or "")
        assert await page.locator("#retry").is_visible()
        assert wallet.calls == []
