"""The Discord connection pool keeps room for acknowledgements: with every other
connection busy, an interaction callback still gets through, and other requests wait."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from bot.discord_http import AckFirstConnector, is_acknowledgement


async def test_a_callback_passes_while_answers_hold_every_other_connection() -> None:
    let_go = asyncio.Event()
    started = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal started
        started += 1
        await let_go.wait()
        return web.Response(text="answer")

    async def callback(request: web.Request) -> web.Response:
        return web.Response(text="ack")

    app = web.Application()
    app.router.add_patch("/webhooks/1/t/messages/@original", slow)
    app.router.add_post("/interactions/1/t/callback", callback)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    connector = AckFirstConnector(limit=3, reserved=1)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:

            async def answer() -> str:
                async with http.patch(f"{base}/webhooks/1/t/messages/@original") as r:
                    return await r.text()

            answers = [asyncio.create_task(answer()) for _ in range(3)]
            while started < 2:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert started == 2  # the third answer waits: one connection is kept
            async with asyncio.timeout(2):
                async with http.post(f"{base}/interactions/1/t/callback") as r:
                    assert await r.text() == "ack"
            let_go.set()
            assert await asyncio.gather(*answers) == ["answer"] * 3
    finally:
        await runner.cleanup()


def test_only_interaction_callbacks_are_acknowledgements() -> None:
    from yarl import URL

    assert is_acknowledgement(URL("https://discord.com/api/v10/interactions/1/tok/callback"))
    assert not is_acknowledgement(URL("https://discord.com/api/v10/webhooks/1/tok"))
    assert not is_acknowledgement(URL("https://discord.com/api/v10/channels/1/messages"))
