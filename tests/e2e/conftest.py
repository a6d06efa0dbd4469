"""End-to-end fixtures: the real bot, the real discord.py client, the Discord emulator,
and an embedded database in a temporary folder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app import LoraBot, configure_discord_endpoints
from bot.settings import Settings, load_settings
from cogs import EXTENSIONS
from tests.fakes.discord import DiscordEmulator

FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GfakeT.0123456789abcdefghijklmnopqrstuvwxyzAB"
TEST_COGS = ("tests.e2e.cogs.faulty",)


class TestBot(LoraBot):
    """The real bot, minus discord.py's 5 s pause between shard IDENTIFYs (Discord's
    identify rate limit, which the emulator does not impose)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@pytest.fixture(autouse=True)
def restore_discord_endpoints() -> Iterator[None]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
    emu.assert_clean()


@dataclass
class BotHarness:
    emulator: DiscordEmulator
    tmp_path: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "discord_token": FAKE_TOKEN,
            "discord_api_base_url": self.emulator.api_base_url,
            "discord_gateway_url": self.emulator.gateway_url,
            "database_url": f"file:{self.tmp_path / 'bot.db'}",
            "http_port": 0,
            "log_format": "text",
            # The paste and payment-page roads are tested on their own: a scanner that
            # finds the same payment first would race them. Its tests turn it on.
            "payment_scan_seconds": 0,
        }
        values.update(overrides)
        return load_settings(_env_file=None, **values)

    @contextlib.asynccontextmanager
    async def running(
        self,
        *,
        extensions: Sequence[str] = (*EXTENSIONS, *TEST_COGS),
        force_sync: bool = False,
        **overrides: Any,
    ) -> AsyncIterator[LoraBot]:
        settings = self.settings(**overrides)
        configure_discord_endpoints(settings)
        # on_ready waits guild_ready_timeout after the last guild arrives (2 s by default).
        bot = TestBot(
            settings, force_sync=force_sync, extensions=extensions, guild_ready_timeout=0.05
        )
        runner = asyncio.create_task(bot.start(FAKE_TOKEN))
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            done, _ = await asyncio.wait(
                {runner, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED
            )
            if runner in done:
                runner.result()  # raises what stopped the bot
                raise AssertionError("the bot stopped before it was ready")
            if ready not in done:
                raise AssertionError("the bot did not become ready within 20 s")
            yield bot
        finally:
            ready.cancel()
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(runner, 10)


@pytest.fixture
def harness(emulator: DiscordEmulator, tmp_path: Path) -> BotHarness:
    return BotHarness(emulator, tmp_path)
