"""Acknowledgements before answers, through the real client: while one interaction is
still waiting for its acknowledgement (its callback held by the emulator after Discord
accepted it, so the bot has not heard back), a later one is acknowledged at once but
answered only once the first is acknowledged: under a burst, the answers' work cannot
delay the acknowledgements Discord wants within 3 seconds."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import DEFERRED_MESSAGE, LOADING, private_answer

ALICE, BOB, CHANNEL = 42, 43, 7
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"


async def test_an_answer_waits_for_an_earlier_acknowledgement(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        gate = emulator.hold("POST", CALLBACK, when="after")
        first = await emulator.run_command("help", user_id=ALICE, channel_id=CHANNEL)
        await asyncio.wait_for(gate.reached.wait(), 5)
        emulator.rest.holds.clear()  # the next callbacks pass

        second = await emulator.run_command("help", user_id=BOB, channel_id=CHANNEL)
        assert (await second.response())["type"] == DEFERRED_MESSAGE
        await asyncio.sleep(0.8)  # /help answers in milliseconds when nothing waits
        assert second.original_message_id is not None
        waiting = emulator.world.messages[second.original_message_id]
        assert waiting["flags"] & LOADING  # still "thinking…"

        gate.release()  # the bot hears back: the first is acknowledged
        answers = await asyncio.gather(private_answer(first), private_answer(second))
        assert all("Link a wallet" in a["embeds"][0]["description"] for a in answers)
