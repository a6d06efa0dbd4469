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
import copy
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord

from bot.app import LoraBot
from cogs.common.id_keys import is_handle_key
from cogs.training.ids import Kind
from cogs.training.views import buttons_for, view_of
from storage.db import Connection
from tests.e2e.conftest import BotHarness
from tests.e2e.test_generate import (
    buttons,
    fal,
    generating_bot,
    seeded,
    wait_thread_message,
)
from tests.e2e.test_train import buttons as train_buttons
from tests.e2e.test_train import card_of, services, training_bot
from tests.e2e.test_train import mention as train_mention
from tests.e2e.test_train import preview as train_preview
from tests.fakes.discord import DiscordEmulator
from tests.fakes.discord.interactions import EmulatedInteraction
from tests.fakes.fal import FakeFal
from tests.support.acks import (
    DEFERRED_MESSAGE,
    DEFERRED_UPDATE,
    EPHEMERAL,
    answer_of,
    private_answer,
)
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
from tests.support.lora_index import index_sees_writes
from tests.support.v2_messages import button, titles, walk
from tests.support.v2_messages import buttons as v2_buttons

__all__ = ["fal", "services"]  # fixtures, shared with test_generate and test_train
Msg = dict[str, Any]

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
        await index_sees_writes(bot)
        first = await emulator.autocomplete("lora", focused="lora", value="ink")
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


# The training feature: /trainings, the preview's buttons and the card's Train again.


async def bot_buttons(bot: LoraBot, emulator: DiscordEmulator, row_id: str, *kinds: Kind) -> Msg:
    """A message the bot posts with its own training buttons for `row_id` (a handle
    key for an id too long to carry, made now, before any hold)."""
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    made = await buttons_for(bot.services.gallery, row_id, *kinds)
    assert [b.kind for b in made] == list(kinds)
    sent = await channel.send("Your training request", view=view_of(*made))
    return emulator.message(sent.id)


async def test_trainings_is_deferred_privately_before_the_database(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    async with training_bot(harness, services) as bot:
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        answer = await private_answer(ix)
        assert answer["content"] == "You have no trainings yet. Start one with /train."
    emulator.assert_clean()


async def test_start_training_is_deferred_before_the_order_is_read(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await train_preview(emulator)
        [order] = await bot.db.fetchall("SELECT id FROM training_orders")
        # A stranger's press (on a message others see; the preview is Alice's alone):
        # acknowledged as an update, refused privately, the message left as it was.
        public = await bot_buttons(bot, emulator, order["id"], "go")
        before = copy.deepcopy(public)
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(public, train_buttons(public)["Start training"], user_id=BOB)
            await acked_while_held(ix, held, DEFERRED_UPDATE, private=False)
        (refusal,) = await ix.followups(count=1, timeout=5)
        assert refusal["flags"] & EPHEMERAL and "belongs to someone else" in refusal["content"]
        assert emulator.message(public["id"]) == before
        assert emulator.world.edit_counts.get(int(public["id"]), 0) == 0
        # The owner's: acknowledged as an update, then the preview itself moves.
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(shown, train_buttons(shown)["Start training"], user_id=ALICE)
            await acked_while_held(ix, held, DEFERRED_UPDATE, private=False)
        moved = await answer_of(ix)
        assert moved["id"] == shown["id"] and moved["components"] == []
        assert "submitting to fal.ai" in moved["content"] or "Training started" in moved["content"]
        told = await train_mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        # Check payment on that order, from an old message: acknowledged privately before
        # the settlement, and the refusal links the card (`refuse_with_progress`).
        old = await bot_buttons(bot, emulator, order["id"], "check")
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(old, train_buttons(old)["Check payment"], user_id=ALICE)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        refused = await private_answer(ix)
        assert "already started" in refused["content"]
        assert [b["label"] for b in v2_buttons(refused)] == ["Open progress"]
    emulator.assert_clean()


async def test_cancel_of_a_request_is_deferred_before_the_order_is_dropped(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await train_preview(emulator)
        [order] = await bot.db.fetchall("SELECT id FROM training_orders")
        request = await bot_buttons(bot, emulator, order["id"], "go", "drop")
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(request, train_buttons(request)["Cancel"], user_id=ALICE)
            await acked_while_held(ix, held, DEFERRED_UPDATE, private=False)
        moved = await answer_of(ix)
        assert moved["id"] == request["id"] and moved["components"] == []
        assert moved["content"] == "Cancelled. Nothing was charged."
        row = await bot.db.fetchone("SELECT status FROM training_orders")
        assert row is not None and row["status"] == "cancelled"
    emulator.assert_clean()


async def test_train_again_and_check_payment_are_deferred_before_their_handle_is_read(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    """Ids too long for a custom_id travel as handles, read from the database: the
    acknowledgement comes before that read too."""
    long_id = "web-" + "x" * 120  # an id the web app might have made
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        old = await bot_buttons(bot, emulator, long_id, "again", "check")
        assert all(is_handle_key(c.split(":", 2)[2]) for c in train_buttons(old).values())
        for label, refusal in (
            ("Train again", "Only the person who started"),
            ("Check payment", "That training request is gone"),
        ):
            async with held_database(bot, tmp_path) as held:
                ix = await emulator.click(old, train_buttons(old)[label], user_id=ALICE)
                await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
            answer = await private_answer(ix)
            assert refusal in answer["content"], (label, answer)
    emulator.assert_clean()


async def test_train_again_is_deferred_privately_before_the_database(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, tmp_path: Path
) -> None:
    _, _, fal = services
    fal.mode.error = "Not enough distinct images"
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await train_preview(emulator, steps=500)
        await answer_of(
            await emulator.click(shown, train_buttons(shown)["Start training"], user_id=ALICE)
        )
        card = card_of(emulator, await train_mention(emulator))
        fal.mode.error = None
        async with held_database(bot, tmp_path) as held:
            ix = await emulator.click(card, train_buttons(card)["Train again"], user_id=ALICE)
            await acked_while_held(ix, held, DEFERRED_MESSAGE, private=True)
        answer = await private_answer(ix, timeout=15)
        assert "Training started" in answer["content"]
    emulator.assert_clean()
