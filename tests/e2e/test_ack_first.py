"""Acknowledged before the database: with the database process held (a call that blocks
the worker until the test lets it go), every command, click and modal that needs the
database is still acknowledged (a deferral, type 5 or 6) while the database is held,
and answered once it is let go; autocomplete answers from memory while it is held.

The bot runs its calls one at a time in one worker process, so while the held call runs
nothing else reaches the database: an acknowledgement seen then was sent before the
interaction's first database call."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.app import LoraBot
from storage.db import Connection
from tests.e2e.conftest import BotHarness
from tests.e2e.test_generate import (
    buttons,
    fal,
    generating_bot,
    seeded,
    wait_thread_message,
)
from tests.fakes.discord import DiscordEmulator
from tests.fakes.discord.interactions import EmulatedInteraction
from tests.fakes.fal import FakeFal
from tests.support.acks import DEFERRED_MESSAGE, DEFERRED_UPDATE, EPHEMERAL, answer_of
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
from tests.support.v2_messages import button, titles, walk
from tests.support.v2_messages import buttons as v2_buttons

__all__ = ["fal"]  # the fixture, shared with test_generate

ALICE, BOB, CHANNEL = 42, 43, 7
# Well under the 2 s after which the old `deliver` deferred anyway: an acknowledgement
# within this while the database is held was not waiting for a slow rendering.
ACK_WITHIN = 1.5


def hold_worker(_: Connection, gate: str) -> None:
    """Runs in the database worker: blocks it until the test creates `gate`."""
    Path(gate + ".reached").touch()
    deadline = time.monotonic() + 20
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.005)


class Held:
    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task

    @property
    def holding(self) -> bool:
        return not self.task.done()


@contextlib.asynccontextmanager
async def held_database(bot: LoraBot, tmp_path: Path) -> AsyncIterator[Held]:
    gate = str(tmp_path / f"gate-{time.monotonic_ns()}")
    task = asyncio.create_task(bot.db.run(hold_worker, gate))
    while not os.path.exists(gate + ".reached"):
        await asyncio.sleep(0.005)
    try:
        yield Held(task)
    finally:
        Path(gate).touch()
        await task


async def acked_while_held(ix: EmulatedInteraction, held: Held, kind: int, private: bool) -> None:
    response = await ix.response(timeout=ACK_WITHIN)
    assert held.holding, "acknowledged only after the database answered"
    assert response["type"] == kind
    if kind == DEFERRED_MESSAGE:
        assert bool((response.get("data") or {}).get("flags", 0) & EPHEMERAL) == private


async def test_commands_are_acknowledged_before_the_database(
    harness: BotHarness, emulator: DiscordEmulator, tmp_path: Path
) -> None:
    async with harness.running(siwe_domain="bot.example") as bot:
        await insert_loras(bot.db, [lora_row(trigger_word="inkwash")])
        await link_wallet(bot.db, ALICE, WALLET_A)
        cases = [
            ("help", {}, True),
            ("wallet status", {}, True),
            ("wallet unlink", {}, True),
            ("wallet link", {}, True),
            ("loras", {}, False),
            ("lora", {"lora": "inkwash"}, False),
        ]
        for name, options, private in cases:
            async with held_database(bot, tmp_path) as held:
                ix = await emulator.run_command(
                    name, user_id=ALICE, channel_id=CHANNEL, options=options
                )
                await acked_while_held(ix, held, DEFERRED_MESSAGE, private)
            answer = await answer_of(ix)
            assert bool(answer["flags"] & EPHEMERAL) == private, name
            assert answer.get("embeds") or answer.get("components") or answer["content"], name
    emulator.assert_clean()


async def test_clicks_and_menus_are_acknowledged_before_the_database(
    harness: BotHarness, emulator: DiscordEmulator, tmp_path: Path
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(7)])
        gallery = await answer_of(await emulator.run_command("loras", user_id=ALICE))
        # The owner's Next: a deferred update, then the same message moves.
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(gallery, button(gallery, "Next ›")["custom_id"])
            await acked_while_held(ix, held, DEFERRED_UPDATE, private=False)
        moved = await answer_of(ix)
        assert moved["id"] == gallery["id"] and titles(moved) == ["w1", "w0"]
        # Someone else's click: a private copy, deferred privately.
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(moved, button(moved, "« First")["custom_id"], user_id=BOB)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        assert titles(await answer_of(ix)) == ["w6", "w5", "w4", "w3", "w2"]
        # Open (a LoRA's page, privately) and the menu below the page.
        async with held_database(bot, tmp_path) as held:
            first_open = next(b for b in v2_buttons(moved) if b.get("label") == "Open")
            ix = await emulator.click(moved, first_open["custom_id"], user_id=BOB)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        assert titles(await answer_of(ix)) == ["w1"]
        [menu] = [c for c in walk(moved["components"]) if c.get("custom_id") == "lgs:open"]
        menu_value = menu["options"][0]["value"]
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.select(moved, "lgs:open", [menu_value], user_id=BOB)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        assert (await answer_of(ix))["flags"] & EPHEMERAL
    emulator.assert_clean()


async def test_autocomplete_answers_from_memory_while_the_database_is_held(
    harness: BotHarness, emulator: DiscordEmulator, tmp_path: Path
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(trigger_word="inkwash", steps=1500)])
        first = await emulator.autocomplete("lora", focused="lora", value="ink")  # loads
        async with held_database(bot, tmp_path) as held:
            lora = await emulator.autocomplete("lora", focused="lora", value="ink", timeout=2.5)
            generate = await emulator.autocomplete(
                "generate", focused="lora", value="INK", options={"prompt": "a cat"}, timeout=2.5
            )
            assert held.holding
    assert [c["name"] for c in first] == ["inkwash · 1,500 steps · 0x1234…5678"]
    assert lora == generate == first


async def test_generate_and_its_buttons_are_acknowledged_before_the_database(
    harness: BotHarness,
    emulator: DiscordEmulator,
    fal: FakeFal,
    tmp_path: Path,
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot, trigger_word="inkwash")
        # /generate: public "thinking…" before the wallet, LoRA and quota are read.
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.run_command(
                "generate",
                user_id=ALICE,
                channel_id=CHANNEL,
                options={"lora": lora["id"], "prompt": "a cat"},
            )
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=False)
        posted = await wait_thread_message(emulator)
        assert len(posted["attachments"]) == 4
        # The prompt modal (Generate again): acknowledged before the generation's checks.
        again = await emulator.click(posted, buttons(posted)["Generate again"], user_id=ALICE)
        modal = await again.modal()
        async with held_database(bot, tmp_path) as held:
            submitted = await emulator.submit_modal(
                modal["custom_id"], {"prompt": "a dog"}, user_id=ALICE
            )
            await acked_while_held(submitted, held, DEFERRED_MESSAGE, private=False)
        await emulator.wait_until(
            lambda: len(fal.submissions) == 2, what="the second generation", timeout=10
        )
        # Same seed: acknowledged before its batch is read.
        async with held_database(bot, tmp_path) as held:
            seed = await emulator.click(posted, buttons(posted)["Same seed"], user_id=ALICE)
            await acked_while_held(seed, held, DEFERRED_MESSAGE, private=False)
        await emulator.wait_until(
            lambda: len(fal.submissions) == 3, what="the same-seed generation", timeout=10
        )
        # Delete: privately, before the batch is read.
        async with held_database(bot, tmp_path) as held:
            deleted = await emulator.click(posted, buttons(posted)["Delete"], user_id=ALICE)
            await acked_while_held(deleted, held, DEFERRED_MESSAGE, private=True)
        assert "Deleted" in (await answer_of(deleted))["content"]


async def test_the_address_modal_is_acknowledged_before_the_database(
    harness: BotHarness, emulator: DiscordEmulator, tmp_path: Path
) -> None:
    async with harness.running(siwe_domain="bot.example") as bot:
        link = await answer_of(await emulator.run_command("wallet link", user_id=ALICE))
        [paste] = [b for r in link["components"] for b in r["components"]]
        modal = await (await emulator.click(link, paste["custom_id"], user_id=ALICE)).modal()
        async with held_database(bot, tmp_path) as held:
            submitted = await emulator.submit_modal(
                modal["custom_id"], {"address": WALLET_A}, user_id=ALICE
            )
            await acked_while_held(submitted, held, DEFERRED_UPDATE, private=True)
        moved = await answer_of(submitted)
        assert moved["id"] == link["id"] and "wants you to sign in" in moved["content"]
