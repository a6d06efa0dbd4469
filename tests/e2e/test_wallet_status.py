"""/wallet status end to end: the wallet, its generations (web app use included), when
the next one frees, and the unused training credits, from one database round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import BotHarness
from tests.e2e.test_help import RoundTrips, custom_ids
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import DEFERRED_MESSAGE, private_answer
from tests.support.gallery_rows import WALLET_A, link_wallet
from tests.support.money_rows import paid_credit

EPHEMERAL = 64
ALICE, CHANNEL = 42, 7


async def status_of(emulator: DiscordEmulator) -> dict[str, Any]:
    ix = await emulator.run_command("wallet status", user_id=ALICE, channel_id=CHANNEL)
    response = await ix.response()
    # Acknowledged privately before the database is asked, then filled in.
    assert response["type"] == DEFERRED_MESSAGE and response["data"]["flags"] & EPHEMERAL
    return await private_answer(ix)


def fields(data: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}


def moment(value: str) -> datetime:
    match = re.fullmatch(r"<t:(\d+):R>", value)
    assert match, value
    return datetime.fromtimestamp(int(match[1]), UTC)


async def test_status_shows_credits_and_when_the_next_generation_frees(
    harness: BotHarness, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness.running() as bot:
        none_yet = await status_of(emulator)
        assert "No wallet linked yet" in none_yet["content"]
        assert custom_ids(none_yet) == ["wallet:start"]

        await link_wallet(bot.db, ALICE, WALLET_A)
        await paid_credit(bot.db, ALICE, WALLET_A)
        await paid_credit(bot.db, ALICE, WALLET_A)
        quota = bot.services.quota
        first_at = datetime.now(UTC)
        for _ in range(3):
            await quota.complete(
                await quota.reserve(WALLET_A, user_id=ALICE, lora_id="l1", prompt="p"), []
            )
        trips = RoundTrips(bot, monkeypatch)
        shown = fields(await status_of(emulator))
        assert trips.count == 1
        assert shown["Generations"] == "5 of 8 left today"
        assert shown["Training credits"] == "2 unused"
        frees = moment(shown["Another frees"])
        assert abs(frees - (first_at + timedelta(hours=24))) < timedelta(seconds=60)
        assert "Next one frees" not in shown

        for _ in range(5):
            await quota.complete(
                await quota.reserve(WALLET_A, user_id=ALICE, lora_id="l1", prompt="p"), []
            )
        await bot.db.execute("UPDATE training_credits SET status = 'consumed'")
        full = fields(await status_of(emulator))
        assert full["Generations"] == "0 of 8 left today"
        assert abs(moment(full["Next one frees"]) - frees) < timedelta(seconds=2)
        assert full["Training credits"].startswith("none")
    emulator.assert_clean()
