"""Secrets never leak: the real `python -m bot` with known fake secrets, driven through
errors (commands that fail, an unreachable RPC, a health check, a bad setting), and
none of the secret values may appear in its logs, in anything it sent to Discord, or in
`/healthz`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.conftest import FAKE_TOKEN
from tests.e2e.test_process import ROOT, free_port, wait_healthy
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import answer_of, private_answer

EPHEMERAL = 64
SECRET_RPC_KEY = "SECRETKEY123456"
SECRETS = {
    "DISCORD_TOKEN": FAKE_TOKEN,
    "FAL_KEY": "fal-secret-9f8e7d6c5b4a:3210fedcba98",
    "TURSO_AUTH_TOKEN": "turso-secret-eyJhbGciOiJFZERTQSJ9.c2VjcmV0",
    "ARENA_ACCESS_TOKEN": "arena-secret-0a1b2c3d4e5f",
}


def needles(rpc_url: str) -> list[str]:
    """Each secret, and the distinctive part of the RPC URL (its key)."""
    return [*SECRETS.values(), rpc_url, SECRET_RPC_KEY, FAKE_TOKEN.split(".")[-1]]


def base_env(tmp_path: Path, emulator: DiscordEmulator, port: int, rpc_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        # a checkout other than the installed one (a worktree) runs its own code
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        **SECRETS,
        "DISCORD_API_BASE_URL": emulator.api_base_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DATABASE_URL": f"file:{tmp_path / 'bot.db'}",  # the Turso token is unused, still secret
        "HTTP_PORT": str(port),
        "BASE_RPC_URL": rpc_url,
        "TREASURY_ADDRESS": "0x" + "11" * 20,
        "CHAINLINK_ETH_USD_FEED": "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70",
        "ARENA_API_URL": f"http://127.0.0.1:{free_port()}",  # closed: Are.na is down
        "LOG_LEVEL": "DEBUG",
    }


async def answer(emulator: DiscordEmulator, name: str, **options: Any) -> dict[str, Any]:
    ix = await emulator.run_command(name, user_id=42, channel_id=7, options=options)
    response = await ix.response(timeout=10)
    if response["type"] == 5:  # deferred: the answer fills it in, or a private followup
        return await answer_of(ix, timeout=15)
    data: dict[str, Any] = response["data"]
    return data


async def test_no_secret_in_logs_messages_or_health(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    port = free_port()
    rpc_url = f"http://127.0.0.1:{free_port()}/v2/{SECRET_RPC_KEY}"
    env = base_env(tmp_path, emulator, port, rpc_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    answers: list[dict[str, Any]] = []
    try:
        await wait_healthy(port, process)
        # Commands that fail, each for another reason.
        answers.append(await answer(emulator, "generate", lora="nope", prompt="a cat"))
        answers.append(await answer(emulator, "wallet link"))  # no PUBLIC_BASE_URL/SIWE_DOMAIN
        answers.append(await answer(emulator, "wallet status"))
        answers.append(await answer(emulator, "train", channel="some-channel", trigger_word="ok"))
        answers.append(await answer(emulator, "train", channel="x", trigger_word="!"))
        answers.append(await answer(emulator, "help"))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                health = await response.text()
            async with http.get(f"http://127.0.0.1:{port}/pay/{'0' * 32}") as response:
                pay_page = await response.text()
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stdout, stderr = await process.communicate()
    logs = stderr.decode() + stdout.decode()
    assert process.returncode == 0, logs[-3000:]
    assert "price feed check failed" in logs  # the closed RPC port was really tried
    assert "not configured" in json.dumps(answers[1]) or "isn't available" in json.dumps(answers[1])
    assert all((a.get("flags") or 0) & EPHEMERAL for a in answers[:5]), answers
    sent = json.dumps(
        [
            {"path": r.path, "query": r.query, "json": r.json, "response": r.response}
            for r in emulator.requests
        ],
        ensure_ascii=False,
        default=str,
    )
    stored = json.dumps(list(emulator.world.messages.values()), ensure_ascii=False, default=str)
    for secret in needles(rpc_url):
        assert secret not in logs, f"{secret!r} in the logs"
        assert secret not in sent, f"{secret!r} sent to Discord"
        assert secret not in stored, f"{secret!r} in a Discord message"
        assert secret not in health, f"{secret!r} in /healthz"
        assert secret not in pay_page, f"{secret!r} on a web page"


async def run_bot_expecting_config_error(env: dict[str, str], cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    output = stdout.decode() + stderr.decode()
    assert process.returncode == 2, output[-3000:]
    return output


async def test_a_bad_setting_exits_2_without_echoing_a_secret(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    rpc_url = f"http://127.0.0.1:{free_port()}/v2/{SECRET_RPC_KEY}"
    env = base_env(tmp_path, emulator, free_port(), rpc_url)
    cases = [
        {"TRAINING_POLL_SECONDS": "soon"},  # an ordinary bad value beside the secrets
        {"BASE_RPC_URL": f"ftp://rpc.example/v2/{SECRET_RPC_KEY}"},  # a secret that is bad
        {"BASE_RPC_URL": f"not a url {SECRET_RPC_KEY}"},
        {"DATABASE_URL": "mysql://db.example/x", "HTTP_PORT": "99999"},
    ]
    for overrides in cases:
        output = await run_bot_expecting_config_error({**env, **overrides}, tmp_path)
        assert "configuration has problems" in output
        named = next(iter(overrides))
        assert named in output, output
        for secret in needles(rpc_url):
            assert secret not in output, f"{secret!r} echoed for {overrides}"


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


async def test_link_tokens_never_reach_the_logs(emulator: DiscordEmulator, tmp_path: Path) -> None:
    """Refused wallet buttons and modals are logged with their custom_id: the link token
    in it (a credential for 10 minutes) shows as a short hash, even at DEBUG."""
    port = free_port()
    rpc_url = f"http://127.0.0.1:{free_port()}/v2/{SECRET_RPC_KEY}"
    env = {
        **base_env(tmp_path, emulator, port, rpc_url),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    del env["BASE_RPC_URL"]  # wrong signatures are then refused at once, without a chain
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_healthy(port, process)
        original = await (
            await emulator.run_command("wallet link", user_id=42, channel_id=7)
        ).original(timeout=15)
        paste = next(c["custom_id"] for c in components(original) if c.get("custom_id"))
        page_url = next(c["url"] for c in components(original) if c.get("url"))
        token = paste.removeprefix("wallet:paste:")
        assert token and page_url.endswith(f"/link/{token}")
        # An address that is not one: the address modal refuses it.
        modal = await (await emulator.click(original, paste, user_id=42)).modal(timeout=10)
        assert modal["custom_id"] == f"wallet:address:{token}"
        bad = await emulator.submit_modal(
            modal["custom_id"], {"address": "0x" + "zz" * 20}, user_id=42
        )
        refusal = await private_answer(bad, timeout=10)  # after the deferred update
        assert "not an Ethereum address" in refusal["content"]
        modal = await (await emulator.click(original, paste, user_id=42)).modal(timeout=10)
        address = {"address": "0x" + "12" * 20}
        # Acknowledged first; the message moves once the address is recorded.
        await answer_of(await emulator.submit_modal(modal["custom_id"], address, user_id=42), 10)
        # Five wrong signatures through the modal use the link up…
        for attempt in range(5):
            modal = await (await emulator.click(original["id"], paste, user_id=42)).modal(
                timeout=10
            )
            assert modal["custom_id"] == f"wallet:signature:{token}"
            wrong = {"signature": "0x" + f"{attempt + 1:02x}" * 65}
            (answer,) = await (
                await emulator.submit_modal(modal["custom_id"], wrong, user_id=42)
            ).followups(count=1, timeout=15)
            assert "not made by" in answer["content"], answer
        assert "last attempt" in answer["content"]
        # …and then the button itself is refused.
        dead = await (await emulator.click(original["id"], paste, user_id=42)).response(timeout=10)
        assert "too many attempts" in dead["data"]["content"]
        # And the signing page, refused too.
        async with aiohttp.ClientSession() as http:
            async with http.get(page_url) as response:
                assert response.status == 200
            async with http.get(f"{page_url}/status") as response:
                assert "too many attempts" in (await response.json())["error"]
            async with http.post(page_url, json={"signature": "0x" + "cd" * 65}) as response:
                assert response.status == 400
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stdout, stderr = await process.communicate()
    logs = stderr.decode() + stdout.decode()
    assert process.returncode == 0, logs[-3000:]
    assert token not in logs
    hashed = "#" + hashlib.sha256(token.encode()).hexdigest()[:8]
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    refusals = [e for e in entries if e["msg"].startswith("interaction refused")]
    assert {e.get("custom_id") for e in refusals} == {
        f"wallet:address:{hashed}",
        f"wallet:signature:{hashed}",
        f"wallet:paste:{hashed}",
    }, refusals
