"""The real entry point, as an operator runs it: `python -m bot` in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.e2e.conftest import FAKE_TOKEN
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import private_answer

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(port: int, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError(f"the bot exited with {process.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the bot never became healthy")


async def test_python_m_bot_runs_answers_and_stops_on_sigterm(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        # a checkout other than the installed one (a worktree) runs its own code
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        "HOME": str(tmp_path),
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DISCORD_API_BASE_URL": emulator.api_base_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "HTTP_PORT": str(port),
        "FAL_KEY": "fal-key-that-must-never-be-logged-0123",
        "LOG_LEVEL": "DEBUG",
    }
    # Default DATABASE_URL: file:data/lora-bot.db, relative to the working directory.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_healthy(port, process)
        ix = await emulator.run_command("help", user_id=42, channel_id=7)
        assert (await ix.response())["type"] == 5  # acknowledged first
        assert (await private_answer(ix))["embeds"]
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    _, stderr = await process.communicate()
    logs = stderr.decode()
    assert process.returncode == 0, logs[-3000:]
    assert (tmp_path / "data" / "lora-bot.db").is_file()
    # Not a terminal: JSON lines, and no secret anywhere in them.
    entries = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert any(e["msg"] == "gateway ready" for e in entries)
    assert any(e["msg"] == "bot closed" for e in entries)
    assert FAKE_TOKEN not in logs
    assert env["FAL_KEY"] not in logs
