"""Representative forged buttons end to end: the real bot and discord.py against the
Discord emulator. Alice forges buttons that act on Bob's things; each is refused
privately and Bob's things are untouched."""

from __future__ import annotations

import copy
import secrets
from typing import Any

import pytest

from cogs.generate import ids as generate_ids
from cogs.training import ids as training_ids
from storage import wallets
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.fakes.discord.driver import dispatch_interaction
from tests.fakes.discord.interactions import MESSAGE_COMPONENT
from tests.support.gallery_rows import WALLET_B, insert_loras, link_wallet, lora_row

ALICE, BOB, CHANNEL, EPHEMERAL = 42, 43, 7, 64
# The e2e fixtures (emulator, harness) come through tests/properties/conftest.py.


async def forged_click(
    emu: DiscordEmulator,
    source: dict[str, Any],
    custom_id: str,
    user_id: int,
    timeout: float = 10,
) -> dict[str, Any]:
    doctored = copy.deepcopy(source)
    doctored["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}]}
    ]
    ix = await dispatch_interaction(
        emu,
        MESSAGE_COMPONENT,
        user_id,
        emu.world.channels[CHANNEL],
        {"custom_id": custom_id, "component_type": 2},
        source=doctored,
    )
    response = await ix.response(timeout=timeout)
    if response["type"] in (5, 6):  # acknowledged first, then a private followup
        followups = await ix.followups(1, timeout=10)
        return {**followups[0], "flags": followups[0].get("flags", 0)}
    data: dict[str, Any] = response["data"]
    return data


def shaped(shape: str) -> str:
    """An id as the bot makes it, as the web app writes it (`hex(randomblob(16))`), or
    too long for a custom_id (a handle carries it)."""
    made = secrets.token_hex(16)
    return {"bot": made, "web app": made.upper(), "long": made + ":x/ü" * 70}[shape]


@pytest.mark.parametrize("shape", ["bot", "web app", "long"])
async def test_forged_buttons_for_someone_elses_things_are_refused(
    harness: BotHarness, emulator: DiscordEmulator, shape: str
) -> None:
    async with harness.running(fal_key="fake-key:not-a-real-secret") as bot:
        await link_wallet(bot.db, BOB, WALLET_B)
        lora = lora_row(status="pending", wallet=WALLET_B, lora_id=shaped(shape))
        await insert_loras(bot.db, [lora])
        now = lora["created_at"]
        await bot.db.execute(
            "INSERT INTO training_jobs (lora_training_id, request_id, discord_user_id, state, "
            "created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?)",
            (lora["id"], lora["request_id"], str(BOB), now, now),
        )
        batch = shaped(shape)
        await bot.db.execute(
            "INSERT INTO generation_batches (id, wallet_address, discord_user_id, "
            "lora_training_id, prompt, status, created_at) VALUES (?, ?, ?, ?, ?, 'failed', ?)",
            (batch, WALLET_B.lower(), str(BOB), lora["id"], "bob's secret prompt", now),
        )
        ix = await emulator.run_command("help", user_id=ALICE, channel_id=CHANNEL)
        await ix.response()
        source = await ix.original()
        # The keys the bot itself would carry (handles it made, for the long ids).
        handles = await bot.services.gallery.handles_for([batch, lora["id"]])
        batch_key = generate_ids.key_of(batch, handles)
        lora_key = training_ids.key_of(lora["id"], handles)
        assert batch_key is not None and lora_key is not None
        answers = {
            custom_id: await forged_click(emulator, source, custom_id, ALICE)
            for custom_id in (
                f"gen:retry:{batch_key}",
                f"train:stop:{lora_key}",
            )
        }
        # train:go for an order that is not Alice's is refused privately, before the
        # clicked message is touched.
        go = await forged_click(emulator, source, f"train:go:{secrets.token_hex(16)}", ALICE)
        assert go.get("flags", 0) & EPHEMERAL
        assert "gone" in go["content"]
        assert emulator.message(source["id"])["content"] == source["content"]
        job = await bot.db.fetchone("SELECT status FROM lora_trainings WHERE id = ?", (lora["id"],))
        assert job is not None and job["status"] == "pending"
    for custom_id, answer in answers.items():
        assert answer.get("flags", 0) & EPHEMERAL, (custom_id, answer)
        text = answer.get("content") or ""
        assert "someone else" in text or "isn't yours" in text or "gone" in text, (
            custom_id,
            text,
        )
        assert "bob's secret prompt" not in str(answer)


async def test_a_forged_unlink_of_someone_else_never_unlinks(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await link_wallet(bot.db, BOB, WALLET_B)
        ix = await emulator.run_command("help", user_id=ALICE, channel_id=CHANNEL)
        await ix.response()
        source = await ix.original()
        for forged in (f"wallet:unlink:{BOB}:yes", "wallet:unlink:\u0664\u0663:yes"):
            try:
                answer = await forged_click(emulator, source, forged, ALICE, timeout=1.5)
            except AssertionError:
                answer = None  # the non-ASCII digits match no button: Discord says it failed
            assert answer is None or answer["flags"] & EPHEMERAL
            assert await wallets.get_link(bot.db, BOB) is not None


async def test_a_forged_unlink_is_answered_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await link_wallet(bot.db, BOB, WALLET_B)
        ix = await emulator.run_command("help", user_id=ALICE, channel_id=CHANNEL)
        await ix.response()
        source = await ix.original()
        answer = await forged_click(emulator, source, f"wallet:unlink:{BOB}:yes", ALICE, 3)
    assert answer["flags"] & EPHEMERAL and "someone else" in answer["content"]
