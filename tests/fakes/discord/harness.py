"""Pointing a real discord.py client at the emulator, and running it for a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import yarl

from .emulator import DiscordEmulator


@contextlib.contextmanager
def discord_py_pointed_at(emu: DiscordEmulator) -> Iterator[None]:
    """Set ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``; restore them afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emu.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def running_client(
    client: discord.Client,
    emu: DiscordEmulator,
    *,
    token: str = "emulator-token",
    timeout: float = 10.0,
) -> AsyncIterator[discord.Client]:
    """Start ``client`` against ``emu``; wait until the emulator sent every GUILD_CREATE and
    the client dispatched ``on_ready``; close it on exit. Startup errors are re-raised."""
    with discord_py_pointed_at(emu):
        task = asyncio.create_task(client.start(token), name="discord-client")
        try:
            ready: asyncio.Future[Any] = asyncio.ensure_future(
                asyncio.gather(emu.wait_for_ready(timeout), client.wait_until_ready())
            )
            waiting: set[asyncio.Future[Any]] = {task, ready}
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                ready.cancel()
                task.result()  # raises the startup error
                raise RuntimeError("the client stopped before it was ready")
            if ready not in done:
                ready.cancel()
                raise TimeoutError(f"client not ready after {timeout}s\n{emu.describe_recent()}")
            ready.result()
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
