"""/help end to end: three steps ticked from the user's real state (the real database),
the price and quota from the settings, command mentions carrying the ids Discord gave
at sync (the emulator assigns real ones)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import LoraBot
from storage.timefmt import utc_now
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import DEFERRED_MESSAGE, private_answer
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
from tests.support.money_rows import paid_credit

EPHEMERAL = 64
ALICE, CHANNEL = 42, 7


class RoundTrips:
    """Counts calls into the database process (every query goes through `Database.run`)."""

    def __init__(self, bot: LoraBot, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = bot.db.run

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await real(*args, **kwargs)

        monkeypatch.setattr(bot.db, "run", counted)


async def help_of(emulator: DiscordEmulator, user: int = ALICE) -> dict[str, Any]:
    ix = await emulator.run_command("help", user_id=user, channel_id=CHANNEL)
    response = await ix.response()
    # Acknowledged privately before the user's standing is read, then filled in.
    assert response["type"] == DEFERRED_MESSAGE and response["data"]["flags"] & EPHEMERAL
    return await private_answer(ix)


def step_lines(data: dict[str, Any]) -> list[str]:
    lines = data["embeds"][0]["description"].splitlines()
    return [line for line in lines if line.startswith(("✓", "○"))]


def ticks(data: dict[str, Any]) -> str:
    return "".join(line[0] for line in step_lines(data))


def custom_ids(data: dict[str, Any]) -> list[str]:
    return [c.get("custom_id", "") for r in data.get("components", []) for c in r["components"]]


async def test_steps_tick_as_the_user_gets_going(
    harness: BotHarness, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness.running(training_price_usd="4.5") as bot:
        trips = RoundTrips(bot, monkeypatch)
        fresh = await help_of(emulator)
        assert trips.count == 1  # the whole standing in one round trip
        assert ticks(fresh) == "○○○"
        assert custom_ids(fresh) == ["wallet:start"]  # the fix for step 1
        one, two, three = step_lines(fresh)
        assert "Link a wallet" in one and "Train a LoRA" in two and "Generate" in three
        assert "$4.50" in two
        assert "8 times per 24 h" in three

        await link_wallet(bot.db, ALICE, WALLET_A)
        linked = await help_of(emulator)
        assert ticks(linked) == "✓○○"
        assert "Linked: `0x1234…5678`." in step_lines(linked)[0]
        assert "8 of 8 left today" in step_lines(linked)[2]
        assert custom_ids(linked) == []  # nothing left to link

        await paid_credit(bot.db, ALICE, WALLET_A)
        credited = await help_of(emulator)
        assert ticks(credited) == "✓✓○"
        assert "1 unused training credit" in step_lines(credited)[1]

        # A LoRA of their own counts too (the credit spent on it, say).
        await bot.db.execute("UPDATE training_credits SET status = 'consumed'")
        assert ticks(await help_of(emulator)) == "✓○○"
        lora = lora_row(wallet=WALLET_A.lower())
        await insert_loras(bot.db, [lora])
        assert ticks(await help_of(emulator)) == "✓✓○"

        # Any image from their wallet (here, one the web app made) ticks step 3.
        await bot.db.execute(
            "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
            "image_url, seed, created_at) VALUES ('img1', ?, ?, 'p', 'https://x/y.png', '1', ?)",
            (lora["id"], WALLET_A.lower(), utc_now()),
        )
        done = await help_of(emulator)
        assert ticks(done) == "✓✓✓"
        assert "8 of 8 left today" in step_lines(done)[2]  # 1 web image: no batch of 4 yet
    emulator.assert_clean()


async def test_command_mentions_carry_the_synced_ids(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        data = await help_of(emulator)
        await help_of(emulator)
    ids = {c["name"]: c["id"] for c in emulator.global_commands}
    text = data["embeds"][0]["description"] + data["embeds"][0]["fields"][0]["value"]
    for name in ("wallet link", "train", "trainings", "loras", "generate"):
        assert f"</{name}:{ids[name.split()[0]]}>" in text, name
    assert f"</wallet status:{ids['wallet']}>" in text
    assert f"</help:{ids['help']}>" in text
    # Fetched from Discord once, then kept.
    fetches = [r for r in emulator.requests if r.method == "GET" and r.path.endswith("/commands")]
    assert len(fetches) == 1


async def test_help_still_helps_when_the_database_is_down(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await bot.db.close()  # every query now fails with DatabaseError
        data = await help_of(emulator)
    assert ticks(data) == "○○○"
    assert "could not be read" in data["embeds"][0]["footer"]["text"]
    assert custom_ids(data) == ["wallet:start"]
