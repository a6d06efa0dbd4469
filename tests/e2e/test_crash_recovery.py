"""The bot process is killed (SIGKILL) while fal trains a paid-for LoRA, then started
again: the training is still followed to its end, announced once, and nothing is lost or
written twice."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from storage.db import Database, DatabaseConfig
from tests.e2e.test_process import wait_healthy
from tests.e2e.test_train import (
    ALICE,
    CHANNEL,
    buttons,
    card_of,
    is_mention,
    mention,
    preview,
    services,
)
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.support.acks import private_answer
from tests.support.bot_process import bot_env
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row

__all__ = ["services"]
ROOT = Path(__file__).resolve().parents[2]


async def start_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await wait_healthy(int(env["HTTP_PORT"]), process)
    return process


async def test_a_killed_bot_finishes_the_training_after_restart(
    emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    arena, storage, fal = services
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 100_000
    database = tmp_path / "bot.db"
    env = bot_env(
        emulator,
        tmp_path,
        database,
        FAL_KEY="fake-key:not-a-real-secret",
        FAL_QUEUE_URL=fal.base_url,
        FAL_REST_URL=storage.base_url + "/",
        FAL_CDN_URL=storage.base_url,
        ARENA_API_URL=arena.base_url,
        ARENA_IMAGE_HOSTS="127.0.0.1",
        ADMIN_WALLETS=WALLET_A,
        TRAINING_POLL_SECONDS="0.1",
        TRAINING_LEASE_SECONDS="1",
    )
    first = await start_bot(env, tmp_path)
    try:
        db = Database(DatabaseConfig(url=f"file:{database}"))
        await db.open()
        await link_wallet(db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(
            lambda: any(t.polls >= 2 for t in fal.trainings.values()),
            what="the first bot to watch the training",
            timeout=15,
        )
    finally:
        first.send_signal(signal.SIGKILL)  # no shutdown: leases and all stay behind
        await first.wait()
    fal.mode.script = []  # fal finishes the job while no bot runs
    second = await start_bot(env, tmp_path)
    try:
        told = await mention(emulator)
        await asyncio.sleep(0.5)  # a few more polls: nothing is announced twice
        mentions = [m for m in emulator.channel_messages(CHANNEL) if is_mention(m)]
        loras = await db.fetchall("SELECT status FROM lora_trainings")
        credits = await db.fetchall("SELECT status FROM training_credits")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{env['HTTP_PORT']}/healthz") as health,
        ):
            assert health.status == 200
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 20)
        await db.close()
    assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
    assert len(mentions) == 1
    assert loras == [{"status": "completed"}]
    assert credits == [{"status": "consumed"}]
    assert len(fal.trainings) == 1  # submitted once


async def test_a_bot_killed_mid_generation_leaves_no_slot_and_no_rows(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    fal = await FakeFal().start()
    fal.mode.result = "hang"
    database = tmp_path / "bot.db"
    env = bot_env(
        emulator,
        tmp_path,
        database,
        FAL_KEY="fake-key:not-a-real-secret",
        FAL_QUEUE_URL=fal.base_url,
        MEDIA_HOSTS="127.0.0.1",
        GENERATION_RESERVATION_SECONDS="1",
    )
    db = Database(DatabaseConfig(url=f"file:{database}"))
    try:
        first = await start_bot(env, tmp_path)
        try:
            await db.open()
            await link_wallet(db, ALICE, WALLET_A)
            lora = lora_row()
            await insert_loras(db, [lora])
            ix = await emulator.run_command(
                "generate",
                user_id=ALICE,
                channel_id=CHANNEL,
                options={"lora": lora["id"], "prompt": "x"},
            )
            await ix.response()
            await emulator.wait_until(
                lambda: bool(fal.submissions), what="the fal call", timeout=10
            )
        finally:
            first.send_signal(signal.SIGKILL)  # mid-generation
            await first.wait()
        assert await db.fetchall("SELECT status FROM generation_batches") == [
            {"status": "reserved"}
        ]
        await asyncio.sleep(1.1)  # past the reservation timeout
        second = await start_bot(env, tmp_path)
        try:
            batches = await db.fetchall("SELECT status FROM generation_batches")
            images = await db.fetchall("SELECT id FROM generated_images")
            status = await private_answer(
                await emulator.run_command("wallet status", user_id=ALICE, channel_id=CHANNEL)
            )
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 20)
    finally:
        await db.close()
        await fal.stop()
    assert batches == [{"status": "released"}]  # closed in the ledger at start
    assert images == []  # nothing half-saved
    fields = {f["name"]: f["value"] for f in status["embeds"][0]["fields"]}
    assert fields["Generations"] == "8 of 8 left today"
