from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest

from tests.fakes.discord import DiscordEmulator, discord_py_pointed_at


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """A started emulator; discord.py's Route.BASE / DEFAULT_GATEWAY point at it meanwhile."""
    emulator = DiscordEmulator()
    await emulator.start()
    real_base = discord.http.Route.BASE
    try:
        with discord_py_pointed_at(emulator):
            yield emulator
    finally:
        await emulator.stop()
    assert real_base == discord.http.Route.BASE


@pytest.fixture(autouse=True)
def no_discord_py_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Payload-shape mistakes often only show up as exceptions discord.py logs."""
    yield
    errors = [
        r
        for r in caplog.get_records("call")
        if r.name.startswith("discord") and r.levelno >= logging.ERROR
    ]
    assert not errors, "\n".join(r.getMessage() for r in errors)
