"""/wallet end to end: the real bot, the emulator, the signing page over real HTTP."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import DEFERRED_UPDATE, answer_of, private_answer

EPHEMERAL = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


def sign(account: Any, text: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


async def test_link_through_the_signing_page_then_status(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = Account.create()
    async with harness.running(http_port=port, public_base_url=base):
        ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
        response = await ix.response()
        assert response["data"]["flags"] & EPHEMERAL
        original = await ix.original()
        page_button = next(b for b in buttons(original) if b.get("url"))
        assert page_button["url"].startswith(f"{base}/link/")
        assert any(b.get("custom_id", "").startswith("wallet:paste:") for b in buttons(original))
        page_url = page_button["url"]

        async with aiohttp.ClientSession() as http:
            async with http.get(page_url) as page:
                assert page.status == 200
                assert page.headers["Referrer-Policy"] == "no-referrer"
                assert "Link your wallet" in await page.text()
            async with http.get(f"{page_url}/message", params={"address": key.address}) as r:
                assert r.status == 200
                text = (await r.json())["message"]
            assert text.startswith(f"127.0.0.1:{port} wants you to sign in")
            async with http.post(page_url, json={"signature": sign(Account.create(), text)}) as r:
                assert r.status == 400
                assert "not made by" in (await r.json())["error"]
            async with http.post(page_url, json={"signature": sign(key, text)}) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["address"] == key.address
            async with http.post(page_url, json={"signature": sign(key, text)}) as r:
                assert r.status == 400
                assert "already used" in (await r.json())["error"]

        # The private Discord message now says "Linked 0x1234…abcd".
        await emulator.wait_until(
            lambda: "Linked" in str(emulator.message(original["id"]).get("embeds")),
            what="the link message to be edited",
        )
        edited = emulator.message(original["id"])
        assert edited["embeds"][0]["title"] == f"Linked {key.address[:6]}…{key.address[-4:]}"
        assert buttons(edited) == []

        status = await private_answer(
            await emulator.run_command("wallet status", user_id=42, channel_id=7)
        )
        assert key.address in status["embeds"][0]["description"]
        other = await private_answer(
            await emulator.run_command("wallet status", user_id=43, channel_id=7)
        )
        assert "No wallet linked" in other["content"]


async def test_link_by_pasting_a_signature_then_unlink(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    key = Account.create()
    async with harness.running(siwe_domain="bot.example"):
        ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
        original = await ix.original()
        assert all(not b.get("url") for b in buttons(original))  # no page without a URL
        (elsewhere,) = buttons(original)
        assert elsewhere["label"] == "Sign elsewhere"  # it asks for the address first
        paste_id = elsewhere["custom_id"]
        token = paste_id.split(":")[-1]

        click = await emulator.click(original, paste_id, user_id=42)
        modal = await click.modal()
        assert modal["custom_id"] == f"wallet:address:{token}"
        submitted = await emulator.submit_modal(
            modal["custom_id"], {"address": key.address.lower()}, user_id=42
        )
        assert (await submitted.response())["type"] == DEFERRED_UPDATE  # before the database
        update = {"data": await answer_of(submitted)}  # the link message, moved
        # The message to sign is the message's own content (phones can copy that, not
        # an embed's text), in a code block; the embed only says what to do with it.
        content = update["data"]["content"]
        assert content.startswith("```\n") and content.endswith("\n```")
        text = content.removeprefix("```\n").removesuffix("\n```")
        assert text.startswith("bot.example wants you to sign in")
        assert key.address in text
        assert key.address not in str(update["data"]["embeds"])
        # And byte for byte as message.txt (copying a whole message on a phone takes the
        # code block's fences along).
        (attached,) = emulator.message(original["id"])["attachments"]
        assert attached["filename"] == "message.txt"
        assert emulator.attachment_bytes(attached) == text.encode()
        assert "Paste signature" in update["data"]["embeds"][0]["description"]
        (paste,) = update["data"]["components"][0]["components"]
        assert (paste["label"], paste["custom_id"]) == ("Paste signature", paste_id)

        click = await emulator.click(original["id"], paste_id, user_id=42)
        modal = await click.modal()
        assert modal["custom_id"] == f"wallet:signature:{token}"
        wrong = await emulator.submit_modal(
            modal["custom_id"], {"signature": "definitely not hex"}, user_id=42
        )
        refusal = await wrong.followups(count=1)
        assert refusal[0]["flags"] & EPHEMERAL
        assert "not hex" in refusal[0]["content"]

        click = await emulator.click(original["id"], paste_id, user_id=42)
        modal = await click.modal()
        done = await emulator.submit_modal(
            modal["custom_id"], {"signature": sign(key, text)}, user_id=42
        )
        await done.response()
        linked = await done.original()
        assert linked["embeds"][0]["title"].startswith("Linked 0x")
        # The message to sign (content and file) is gone once the link is made.
        assert not linked.get("content") and not linked.get("attachments")

        unlink = await emulator.run_command("wallet unlink", user_id=42, channel_id=7)
        prompt = await unlink.original()
        yes = next(b["custom_id"] for b in buttons(prompt) if b["custom_id"].endswith(":yes"))
        unlinked = await emulator.click(prompt, yes, user_id=42)
        assert (await unlinked.response())["type"] == DEFERRED_UPDATE
        answer = await answer_of(unlinked)
        assert answer["id"] == prompt["id"] and answer["content"] == "Unlinked your wallet."
        status = await private_answer(
            await emulator.run_command("wallet status", user_id=42, channel_id=7)
        )
        assert "No wallet linked" in status["content"]


async def test_wallet_link_without_configuration_says_so_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        response = await private_answer(
            await emulator.run_command("wallet link", user_id=42, channel_id=7)
        )
    assert "PUBLIC_BASE_URL or SIWE_DOMAIN" in response["content"]


async def test_the_link_endpoints_are_rate_limited_per_address(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = Account.create()
    async with harness.running(http_port=port, public_base_url=base):
        ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
        page_url = next(b["url"] for b in buttons(await ix.original()) if b.get("url"))
        async with aiohttp.ClientSession() as http:
            # 20 requests a minute over the message, status and signature endpoints…
            for n in range(20):
                if n % 2:
                    request = http.get(f"{page_url}/message", params={"address": key.address})
                else:
                    request = http.post(page_url, json={"signature": "not hex"})
                async with request as r:
                    assert r.status in (200, 400), n
            # …then 429 with a JSON error the page shows, on each of them.
            for request in (
                http.post(page_url, json={"signature": "0x" + "ab" * 65}),
                http.get(f"{page_url}/message", params={"address": key.address}),
                http.get(f"{page_url}/status"),
            ):
                async with request as r:
                    assert r.status == 429
                    assert 1 <= int(r.headers["Retry-After"]) <= 60
                    assert r.headers["Cache-Control"] == "no-store"
                    assert "Too many requests" in (await r.json())["error"]
            # The page itself is static and still served.
            async with http.get(page_url) as r:
                assert r.status == 200
        # Nothing reached the signature check: the token is untouched.
        ix = await emulator.run_command("wallet status", user_id=42, channel_id=7)
        assert "No wallet linked" in (await private_answer(ix))["content"]


async def test_five_wrong_signatures_on_the_page_kill_the_token(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = Account.create()
    async with harness.running(http_port=port, public_base_url=base):
        ix = await emulator.run_command("wallet link", user_id=42, channel_id=7)
        page_url = next(b["url"] for b in buttons(await ix.original()) if b.get("url"))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{page_url}/message", params={"address": key.address}) as r:
                text = (await r.json())["message"]
            for _ in range(5):
                async with http.post(
                    page_url, json={"signature": sign(Account.create(), text)}
                ) as r:
                    assert r.status == 400
                    assert "not made by" in (await r.json())["error"]
            async with http.post(page_url, json={"signature": sign(key, text)}) as r:
                assert r.status == 400
                assert "too many attempts" in (await r.json())["error"]
            async with http.get(f"{page_url}/status") as r:
                body = await r.json()
                assert body["open"] is False and "Run /wallet link again" in body["error"]


async def test_link_with_an_address_sends_the_message_as_copyable_content_and_file(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    key = Account.create()
    async with harness.running(siwe_domain="bot.example"):
        ix = await emulator.run_command(
            "wallet link", user_id=42, channel_id=7, options={"address": key.address}
        )
        original = await ix.original()
        assert original["flags"] & EPHEMERAL
        (paste,) = buttons(original)
        assert paste["label"] == "Paste signature"  # the address is known: sign, paste
        (attached,) = original["attachments"]
        text = emulator.attachment_bytes(attached).decode()
        assert attached["filename"] == "message.txt"
        assert original["content"] == f"```\n{text}\n```"
        assert text.startswith("bot.example wants you to sign in") and key.address in text
        assert text not in str(original["embeds"])
        modal = await (await emulator.click(original, paste["custom_id"], user_id=42)).modal()
        done = await emulator.submit_modal(
            modal["custom_id"], {"signature": sign(key, text)}, user_id=42
        )
        await done.response()
        linked = await done.original()
        assert linked["embeds"][0]["title"] == f"Linked {key.address[:6]}…{key.address[-4:]}"
        assert not linked.get("content") and not linked.get("attachments")
