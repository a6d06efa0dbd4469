"""Ids of every shape the shared database may hold, end to end (the real bot against the
Discord emulator, the embedded database, a fake fal): rows written as the web app writes
them (`hex(randomblob(16))`, UPPER case, in SQL), UUIDs, and 300-character ids (carried
by handles). The gallery pages both ways, its Open buttons and `/lora` open them, Generate,
the result's Open LoRA and a finished training's buttons all reach exactly that row."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from bot.app import LoraBot
from bot.services.records import WatchedTraining
from bot.services.training.watcher import TrainingOutcome
from cogs.common.id_keys import read_handles
from cogs.generate.ids import checked_key
from cogs.training.notifier import DiscordTrainingNotifier
from tests.e2e.conftest import BotHarness
from tests.e2e.test_gallery import ALICE, BOB, CHANNEL, EPHEMERAL, click, open_gallery
from tests.e2e.test_generate import fal, generating_bot, wait_thread_message
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.support.gallery_rows import (
    BASE_TIME,
    WALLET_A,
    image_row,
    insert_images,
    insert_loras,
    iso,
    link_wallet,
    lora_row,
)
from tests.support.lora_index import index_sees_writes
from tests.support.v2_messages import button, buttons, page_of, texts, titles

__all__ = ["fal"]  # the fixture, shared with test_generate
SHAPES = ["web app", "uuid", "300 characters"]
WEIGHTS = "https://v3.fal.media/files/rabbit/w/pytorch_lora_weights.safetensors"


def made_id(shape: str, n: int) -> str:
    if shape == "uuid":
        return str(uuid.uuid4()).upper() if n % 2 else str(uuid.uuid4())
    return f"{n:03d}-" + "Long.Id/ü:" * 30  # 300 characters, with `:` and non-ASCII


async def seed_loras(bot: LoraBot, shape: str, count: int) -> list[str]:
    """`count` completed LoRAs w0 (oldest) … w{count-1}; their ids, oldest first."""
    if shape != "web app":
        rows = [
            lora_row(minutes=i, trigger_word=f"w{i}", lora_id=made_id(shape, i))
            for i in range(count)
        ]
        await insert_loras(bot.db, rows)
        return [r["id"] for r in rows]
    for i in range(count):
        await bot.db.execute(
            "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
            "image_urls, lora_weights_url, status, created_at) VALUES (hex(randomblob(16)), "
            "hex(randomblob(16)), ?, ?, 1000, '[]', ?, 'completed', ?)",
            (WALLET_A, f"w{i}", WEIGHTS, iso(BASE_TIME + timedelta(minutes=i))),
        )
    found = await bot.db.fetchall("SELECT id FROM lora_trainings ORDER BY created_at")
    ids = [str(r["id"]) for r in found]
    assert all(len(i) == 32 and i == i.upper() for i in ids)  # as SQLite's hex() writes
    return ids


async def seed_images(bot: LoraBot, shape: str, lora_id: str, count: int) -> None:
    if shape == "web app":
        for j in range(count):
            await bot.db.execute(
                "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
                "image_url, image_width, image_height, seed, created_at) VALUES "
                "(hex(randomblob(16)), ?, ?, ?, ?, 1024, 1024, '1', ?)",
                (
                    lora_id,
                    WALLET_A,
                    f"prompt {j}",
                    f"https://v3.fal.media/files/tiger/{j}.jpeg",
                    iso(BASE_TIME + timedelta(minutes=j)),
                ),
            )
        return
    rows = [image_row(lora_id, minutes=j, prompt=f"prompt {j}") for j in range(count)]
    for j, row in enumerate(rows):
        row["id"] = made_id(shape, 100 + j)
    await insert_images(bot.db, rows)


async def shows(bot: LoraBot, message: dict[str, Any], row_id: str) -> bool:
    """The detail page is this row's: its Generate button carries exactly this id (the
    page shows no raw id), resolved as the bot resolves it (handles for long ids)."""
    custom_id = button(message, "Generate")["custom_id"]
    assert custom_id.startswith("gen:open:")
    key = custom_id.removeprefix("gen:open:")
    handles = await read_handles(bot.services.gallery, custom_id)
    return checked_key(key, handles) == row_id and len(titles(message)) == 1


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [b["custom_id"] for b in buttons(message) if b.get("custom_id")]


def assert_fits(message: dict[str, Any]) -> None:
    assert all(len(c) <= 100 for c in custom_ids(message))
    for b in buttons(message):
        assert all(len(o["value"]) <= 100 for o in b.get("options", []))


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_gallery_pages_both_ways_and_opens_every_shape(
    harness: BotHarness, emulator: DiscordEmulator, shape: str
) -> None:
    async with harness.running() as bot:
        ids = await seed_loras(bot, shape, 12)
        message = await open_gallery(emulator)
        assert_fits(message)
        labels = [b.get("label") for b in buttons(message)][-6:-1]  # then the menu
        assert labels == ["« First", "‹ Previous", "Page 1 of 3", "Next ›", "Last »"]
        seen = [(page_of(message), titles(message))]
        while not button(message, "Next ›").get("disabled"):
            await click(emulator, message, "Next ›")
            message = emulator.message(message["id"])
            assert_fits(message)
            seen.append((page_of(message), titles(message)))
        assert seen == [
            ("1/3", ["w11", "w10", "w9", "w8", "w7"]),
            ("2/3", ["w6", "w5", "w4", "w3", "w2"]),
            ("3/3", ["w1", "w0"]),
        ]
        back = []
        while not button(message, "‹ Previous").get("disabled"):
            await click(emulator, message, "‹ Previous")
            message = emulator.message(message["id"])
            back.append((page_of(message), titles(message)))
        assert back == seen[-2::-1]
        # A card's Open opens exactly its LoRA, with its Generate button.
        ix = await emulator.click(message, open_button(message, "w9"), user_id=BOB)
        detail = await ix.original()
        assert titles(detail) == ["w9"]
        assert await shows(bot, detail, ids[9])
        assert not button(detail, "Generate").get("disabled")
        assert_fits(detail)


@pytest.mark.parametrize("shape", SHAPES)
async def test_lora_shows_generate_and_pages_its_images(
    harness: BotHarness, emulator: DiscordEmulator, shape: str
) -> None:
    async with harness.running() as bot:
        ids = await seed_loras(bot, shape, 2)
        await seed_images(bot, shape, ids[1], 10)
        await index_sees_writes(bot)
        # What /lora is given: the autocomplete's value (the id, or a handle for a long one).
        choices = await emulator.autocomplete("lora", focused="lora", value="w1")
        assert [c["name"].split(" · ")[0] for c in choices] == ["w1"]
        value = choices[0]["value"]
        assert len(value) <= 100 and (value == ids[1] or shape == "300 characters")
        ix = await emulator.run_command(
            "lora", user_id=ALICE, channel_id=CHANNEL, options={"lora": value}
        )
        detail = await ix.original()
        assert await shows(bot, detail, ids[1])
        assert not button(detail, "Generate").get("disabled")
        assert_fits(detail)
        first = page_of_images(detail)
        assert first == "1/2 **Generated images** 1–8 of 10, newest first"
        await click(emulator, detail, "Next ›")
        moved = emulator.message(detail["id"])
        assert page_of_images(moved) == "2/2 **Generated images** 9–10 of 10, newest first"
        assert await shows(bot, moved, ids[1])
        await click(emulator, moved, "‹ Previous")
        assert page_of_images(emulator.message(detail["id"])) == first
        if shape == "web app":  # typed in lower case, it is still found
            ix = await emulator.run_command(
                "lora", user_id=ALICE, channel_id=CHANNEL, options={"lora": ids[0].lower()}
            )
            assert await shows(bot, (await ix.original()), ids[0])


def page_of_images(message: dict[str, Any]) -> str:
    header = next(line for line in texts(message).split("\n") if line.startswith("**Generated"))
    return f"{page_of(message)} {header}"


def open_button(message: dict[str, Any], name: str) -> str:
    """The custom_id of the Open button on the card of the LoRA called `name`."""
    opens = [b["custom_id"] for b in buttons(message) if b.get("label") == "Open"]
    names = titles(message)
    assert len(opens) == len(names)
    return opens[names.index(name)]


@pytest.mark.parametrize("shape", SHAPES)
async def test_generate_and_open_lora_reach_exactly_that_row(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal, shape: str
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        ids = await seed_loras(bot, shape, 2)
        if shape == "web app":  # a near twin: the same id in lower case, another LoRA
            await insert_loras(bot.db, [lora_row(trigger_word="twin", lora_id=ids[1].lower())])
        gallery = await open_gallery(emulator)
        ix = await emulator.click(gallery, open_button(gallery, "w1"))
        detail = await ix.original()
        opened = await emulator.click(
            detail, button(detail, "Generate")["custom_id"], user_id=ALICE
        )
        modal = await opened.modal()
        assert len(modal["custom_id"]) <= 100
        submitted = await emulator.submit_modal(
            modal["custom_id"], {"prompt": "a cat"}, user_id=ALICE
        )
        await submitted.response()
        posted = await wait_thread_message(emulator)
        assert fal.submissions[0].arguments["prompt"] == "a cat in the style of w1"
        rows = await bot.db.fetchall("SELECT DISTINCT lora_training_id FROM generated_images")
        assert [r["lora_training_id"] for r in rows] == [ids[1]]
        assert {b.get("label") for b in buttons(posted)} == {
            "Same seed",
            "Generate again",
            "Open LoRA",
            "Delete",
        }
        assert_fits(posted)
        lora_ix = await emulator.click(
            posted, button(posted, "Open LoRA")["custom_id"], user_id=BOB
        )
        shown = await lora_ix.original()
        assert shown["flags"] & EPHEMERAL
        assert await shows(bot, shown, ids[1])


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_finished_training_offers_open_and_generate(
    harness: BotHarness, emulator: DiscordEmulator, shape: str
) -> None:
    async with harness.running() as bot:
        ids = await seed_loras(bot, shape, 1)
        training = WatchedTraining(
            lora_id=ids[0],
            request_id="req",
            trigger_word="w0",
            wallet=WALLET_A,
            discord_user_id=ALICE,
            channel_id=CHANNEL,
            progress_message_id=None,
            credit_id=None,
            state="completed",
            created_at=iso(BASE_TIME),
        )
        outcome = TrainingOutcome(status="completed", weights_url=WEIGHTS, error=None)
        told = await DiscordTrainingNotifier(bot).finished(training, outcome)
        assert told is not None
        message = emulator.message(told)
        assert [b.get("label") for b in buttons(message)] == ["Open in gallery", "Generate images"]
        assert_fits(message)
        opened = await emulator.click(message, button(message, "Open in gallery")["custom_id"])
        assert await shows(bot, (await opened.original()), ids[0])
        generate = await emulator.click(message, button(message, "Generate images")["custom_id"])
        assert (await generate.modal())["title"] == "Generate four images"
