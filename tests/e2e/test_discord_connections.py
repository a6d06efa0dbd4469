"""Connections to Discord under a burst: a bounded pool, kept alive (discord.py alone
opens one connection per concurrent request, `TCPConnector(limit=0)`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from bot.app import DISCORD_CONNECTIONS
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import private_answer

BURST = 3 * DISCORD_CONNECTIONS


async def test_a_burst_is_served_by_a_bounded_pool_of_kept_alive_connections(
    harness: BotHarness, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = 0
    accept = web.RequestHandler.connection_made

    def counting(handler: Any, transport: Any) -> None:  # the emulator's server side
        nonlocal opened
        opened += 1
        accept(handler, transport)

    monkeypatch.setattr(web.RequestHandler, "connection_made", counting)

    async def burst() -> int:
        before = opened
        fired = await asyncio.gather(
            *(emulator.run_command("help", user_id=42, channel_id=7) for _ in range(BURST))
        )
        for ix in fired:
            assert (await ix.response(timeout=30))["type"] == 5  # acknowledged first
            assert (await private_answer(ix, timeout=30))["embeds"]  # then the answer
        return opened - before

    async def one_by_one(count: int) -> int:
        before = opened
        for _ in range(count):
            ix = await emulator.run_command("help", user_id=42, channel_id=7)
            assert (await ix.response(timeout=30))["type"] == 5
            assert (await private_answer(ix, timeout=30))["embeds"]
        return opened - before

    async with harness.running():
        first = await burst()
        second = await burst()
        after = await one_by_one(5)
    # Bounded: never one per callback, however busy the machine is.
    assert 1 <= first <= DISCORD_CONNECTIONS
    assert second <= DISCORD_CONNECTIONS
    # Kept alive: once the pool holds connections, requests one at a time reuse them.
    assert after == 0
