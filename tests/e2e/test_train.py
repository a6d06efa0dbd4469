"""/train end to end: the real bot and discord.py against the emulator, a fake Are.na,
fal storage and fal's training queue over HTTP, the real embedded database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import fal_client.client as fal_internals
import pytest

from bot.app import LoraBot
from tests.e2e.conftest import BotHarness
from tests.fakes.arena import FakeArena
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal_storage import FakeFalStorage
from tests.fakes.fal_training import FakeFalTraining
from tests.gallery_rows import WALLET_A, link_wallet

EPHEMERAL = 64
ALICE = 42
CHANNEL = 7


@pytest.fixture
async def services(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeArena, FakeFalStorage, FakeFalTraining]]:
    # fal-client's hosts are module constants: restore them after the test.
    for name in ("QUEUE_URL_FORMAT", "REST_URL", "CDN_URL"):
        monkeypatch.setattr(fal_internals, name, getattr(fal_internals, name))
    arena, storage, fal = FakeArena(), FakeFalStorage(), FakeFalTraining()
    await arena.start()
    await storage.start()
    await fal.start()
    arena.add_channel(
        "my-moodboard", title="My *mood* board @everyone", images=6, others={"Text": 2}
    )
    try:
        yield arena, storage, fal
    finally:
        await fal.stop()
        await storage.stop()
        await arena.stop()


@contextlib.asynccontextmanager
async def training_bot(
    harness: BotHarness, services: tuple[FakeArena, FakeFalStorage, FakeFalTraining], **extra: Any
) -> AsyncIterator[LoraBot]:
    arena, storage, fal = services
    async with harness.running(
        fal_key="fake-key:not-a-real-secret",
        fal_queue_url=fal.base_url,
        fal_rest_url=storage.base_url + "/",
        fal_cdn_url=storage.base_url,
        arena_api_url=arena.base_url,
        arena_image_hosts="127.0.0.1",
        training_poll_seconds=0.05,
        **extra,
    ) as bot:
        yield bot


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        c["label"]: c.get("custom_id", "")
        for row in message.get("components", [])
        for c in row["components"]
    }


async def preview(emulator: DiscordEmulator, **options: Any) -> dict[str, Any]:
    ix = await emulator.run_command(
        "train",
        user_id=ALICE,
        channel_id=CHANNEL,
        options={
            "channel": "https://www.are.na/ada-lovelace/my-moodboard",
            "trigger_word": "mystyle",
            **options,
        },
    )
    await ix.response()
    (shown,) = await ix.followups(count=1, timeout=10)
    return shown


async def mention(emulator: DiscordEmulator) -> dict[str, Any]:
    await emulator.wait_until(
        lambda: any(m.get("content") == f"<@{ALICE}>" for m in emulator.channel_messages(CHANNEL)),
        what="the finished-training mention",
        timeout=15,
    )
    return next(m for m in emulator.channel_messages(CHANNEL) if m.get("content") == f"<@{ALICE}>")


async def test_admin_trains_and_is_told_when_it_is_done(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, storage, fal = services
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        assert shown["flags"] & EPHEMERAL
        card = shown["embeds"][0]
        assert "Free (admin wallet)" in card["description"]
        assert "6 images" in card["description"]
        assert "@everyone" not in card["title"]  # the Are.na title is user text
        start = await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        await start.response()
        told = await mention(emulator)
        assert set(buttons(told)) == {"Open in gallery", "Generate images"}
        assert all(
            p["allowed_mentions"]["users"] == [str(ALICE)]
            or p["allowed_mentions"]["users"] == [ALICE]
            for p in emulator.sent_payloads(told)
        )
        row = await bot.db.fetchone("SELECT * FROM lora_trainings WHERE trigger_word = 'mystyle'")
        assert row is not None
        assert row["status"] == "completed"
        assert row["lora_weights_url"].endswith("pytorch_lora_weights.safetensors")
        assert row["wallet_address"] == WALLET_A and row["steps"] == 1000
        (submitted,) = fal.trainings.values()
        assert submitted.arguments["trigger_word"] == "mystyle"
        assert submitted.arguments["images_data_url"].startswith(storage.base_url)
        # The progress message was edited along the way, then shows the result.
        progress = next(
            m
            for m in emulator.channel_messages(CHANNEL)
            if m.get("embeds")
            and m["embeds"][0].get("title", "").startswith(("Training", "Trained"))
        )
        assert progress["embeds"][0]["title"] == "Trained mystyle"
        gallery = await (
            await emulator.run_command("loras", user_id=ALICE, channel_id=CHANNEL)
        ).original()
        assert "mystyle" in str(gallery)


async def test_a_failed_training_keeps_the_credit(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    fal.mode.error = "Not enough distinct images"
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator, steps=500)
        assert "Uses your training credit" in shown["embeds"][0]["description"]
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        told = await mention(emulator)
        assert "Not enough distinct images" in told["embeds"][0]["description"]
        assert "credit" in told["embeds"][0]["description"]
        assert buttons(told) == {}
        assert len(await bot.credits.available(ALICE)) == 1  # money is never lost
        listing = await (
            await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
        ).response()
        assert "failed: Not enough distinct images" in listing["data"]["embeds"][0]["description"]


async def test_training_survives_a_restart(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    # Long enough that the first bot stops while the training is still running.
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 0}] * 1000
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(lambda: bool(fal.trainings), what="the submission", timeout=10)
    fal.mode.script = []  # fal finishes while the bot is down
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        told = await mention(emulator)
        row = await bot.db.fetchone("SELECT status FROM lora_trainings")
    assert row == {"status": "completed"}
    assert told["embeds"][0]["title"] == "Trained mystyle"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"trigger_word": "a"}, "trigger word must be"),
        ({"trigger_word": "@everyone hi"}, "trigger word must be"),
        ({"steps": 5}, "Steps must be between"),
        ({"channel": "https://evil.example/x/y"}, "are.na"),
        ({"channel": "https://www.are.na/ada-lovelace/missing"}, "has no channel"),
    ],
)
async def test_bad_input_is_refused_privately(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    options: dict[str, Any],
    expected: str,
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        ix = await emulator.run_command(
            "train",
            user_id=ALICE,
            channel_id=CHANNEL,
            options={"channel": "my-moodboard", "trigger_word": "mystyle", **options},
        )
        await ix.response()
        (answer,) = await ix.followups(count=1, timeout=10)
    assert answer["flags"] & EPHEMERAL
    assert expected.lower() in answer["content"].lower()
