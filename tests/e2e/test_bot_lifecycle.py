"""The bot starts, registers its commands, answers, survives a gateway drop, and shuts
down cleanly — all through the real discord.py client and the Discord emulator."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import private_answer

EPHEMERAL = 64


async def get_health(port: int) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


async def test_help_is_answered_privately_within_three_seconds(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        ix = await emulator.run_command("help", user_id=42, channel_id=7)
        response = await ix.response(timeout=5)
        data = await private_answer(ix)
    assert ix.acked_after is not None
    assert ix.acked_after < 3.0
    # Acknowledged privately first ("thinking…"), then the answer fills it in.
    assert response["type"] == 5 and response["data"]["flags"] & EPHEMERAL
    text = data["embeds"][0]["fields"][0]["value"]
    assert "/help" in text
    # No mention can ever ping: the client default is "parse nothing".
    [edit] = [r for r in emulator.requests if r.method == "PATCH" and "@original" in r.path]
    assert edit.json["allowed_mentions"] == {"parse": []}


async def test_commands_are_registered_and_synced_only_when_changed(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        assert bot.synced_commands
    assert emulator.sync_count == 1
    names = {c["name"] for c in emulator.global_commands}
    assert {"help", "boom"} <= names

    # Same tree, same database: a restart does not spend Discord's sync rate limit.
    async with harness.running() as bot:
        assert not bot.synced_commands
    assert emulator.sync_count == 1

    # --sync forces it.
    async with harness.running(force_sync=True) as bot:
        assert bot.synced_commands
    assert emulator.sync_count == 2

    # A changed tree (a command removed) syncs by itself at the next start.
    async with harness.running(extensions=("cogs.help",)) as bot:
        assert bot.synced_commands
    assert emulator.sync_count == 3
    assert {c["name"] for c in emulator.global_commands} == {"help"}


async def test_unexpected_error_gives_a_ref_that_is_in_the_logs(
    harness: BotHarness, emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with harness.running():
        ix = await emulator.run_command("boom", user_id=42, channel_id=7)
        response = await ix.response(timeout=5)
    data = response["data"]
    assert data["flags"] & EPHEMERAL
    match = re.fullmatch(r"Something went wrong \(ref ([A-Z2-9]{6})\)\..*", data["content"])
    assert match, data["content"]
    logged = [r for r in caplog.records if getattr(r, "ref", None) == match[1]]
    assert logged
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None
    assert "kaboom" in str(logged[0].exc_info[1])
    assert "kaboom" not in data["content"]  # internals stay in the logs


async def test_domain_errors_become_specific_private_messages(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        refused = await (await emulator.run_command("refuse", user_id=42, channel_id=7)).response()
        unconfigured = await (
            await emulator.run_command("unconfigured", user_id=42, channel_id=7)
        ).response()
        deferred = await emulator.run_command("dbdown", user_id=42, channel_id=7)
        followups = await deferred.followups(count=1, timeout=5)
    assert refused["data"]["flags"] & EPHEMERAL
    assert refused["data"]["content"].startswith("That LoRA is still training.")
    assert re.search(r"\(ref [A-Z2-9]{6}\)", refused["data"]["content"])
    assert "operator has not configured it (FAL_KEY)" in unconfigured["data"]["content"]
    # After a deferral the error arrives as a private followup.
    assert followups[0]["flags"] & EPHEMERAL
    assert "database isn't answering" in followups[0]["content"]


async def test_a_cog_that_fails_to_load_is_skipped(
    harness: BotHarness, emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness.running(extensions=("tests.e2e.cogs.broken", "cogs.help")) as bot:
        assert "tests.e2e.cogs.broken" in bot.failed_extensions
        response = await (await emulator.run_command("help", user_id=42, channel_id=7)).response()
    assert response["type"] == 5  # acknowledged first
    assert any("cog failed to load" in r.getMessage() for r in caplog.records)


async def test_gateway_drop_resumes_and_keeps_answering(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        assert emulator.identify_count[0] == 1
        await emulator.drop_gateway(shard_id=0)
        for _ in range(100):
            if emulator.resume_count[0] >= 1:
                break
            await asyncio.sleep(0.05)
        assert emulator.resume_count[0] == 1
        assert emulator.identify_count[0] == 1  # resumed, not re-identified
        response = await (await emulator.run_command("help", user_id=42, channel_id=7)).response()
    assert response["type"] == 5  # acknowledged first


async def test_health_reports_database_and_gateway(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        port = bot.web.bound_port
        status, body = await get_health(port)
        assert status == 200
        assert body["status"] == "ok"
        assert body["gateway"]["shards"]["0"]["connected"] is True  # type: ignore[index]

        await bot.db.close()  # the database goes away
        status, body = await get_health(port)
        assert status == 503
        assert body["database"] == {"ok": False}


async def test_close_undoes_start_up(harness: BotHarness, emulator: DiscordEmulator) -> None:
    async with harness.running() as bot:
        port = bot.web.bound_port
        pid = bot.db.worker_pid
        session = bot.http_session
    assert bot.is_closed()
    assert not bot.db.is_open
    assert session is not None and session.closed
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(aiohttp.ClientConnectionError):
        await get_health(port)


async def test_sharded_through_the_gateway_override(tmp_path: Path) -> None:
    emu = DiscordEmulator(shard_count=2)
    await emu.start()
    try:
        harness = BotHarness(emu, tmp_path)
        async with harness.running() as bot:
            assert sorted(bot.shards) == [0, 1]
            status, body = await get_health(bot.web.bound_port)
            assert status == 200
            assert set(body["gateway"]["shards"]) == {"0", "1"}  # type: ignore[index]
            ix = await emu.run_command("help", user_id=42, channel_id=7)
            assert (await ix.response())["type"] == 5  # acknowledged first
            assert (await private_answer(ix))["embeds"]
    finally:
        await emu.stop()
    emu.assert_clean()
