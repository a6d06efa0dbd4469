"""/lora end to end: a LoRA's page (opened from a gallery card, the legacy menu, or the
command), its batches of generated images with their jump links, paged; "not found"."""

from __future__ import annotations

import re
from typing import Any

from storage.db import Connection, Database
from tests.e2e.conftest import BotHarness
from tests.e2e.test_gallery import (
    ALICE,
    BOB,
    DEFERRED_MESSAGE,
    DEFERRED_UPDATE,
    EPHEMERAL,
    click,
    open_gallery,
)
from tests.fakes.discord import DiscordEmulator
from tests.support.gallery_rows import image_row, insert_images, insert_loras, lora_row, new_id
from tests.support.v2_messages import (
    GALLERY_ITEMS,
    TEXT_DISPLAY,
    button,
    buttons,
    page_of,
    texts,
    titles,
    walk,
)


async def test_open_and_the_menu_show_a_lora_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(3)]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        message = await open_gallery(emulator)
        opens = [b for b in buttons(message) if b.get("label") == "Open"]
        ix = await emulator.click(message, opens[1]["custom_id"], user_id=ALICE)
        assert (await ix.response())["type"] == DEFERRED_MESSAGE  # even for the owner
        detail = await ix.original()
        assert emulator.message(message["id"]) == message
        # The menu below the page opens one the same way, leaving the gallery alone.
        picked = await emulator.select(message, "lgs:open", [rows[0]["id"]], user_id=BOB)
        assert (await picked.response())["type"] == DEFERRED_MESSAGE
        from_menu = await picked.original()
    assert detail["flags"] & EPHEMERAL
    assert titles(detail) == ["w1"]
    assert "**Generated images** none yet. Press Generate to make the first ones." in texts(detail)
    labels = [b.get("label") for b in buttons(detail)]
    assert labels == ["Generate", "Download weights", "All LoRAs"]
    assert button(detail, "Download weights")["url"] == rows[1]["lora_weights_url"]
    assert f"```\n{rows[1]['lora_weights_url']}\n```" in texts(detail)
    assert from_menu["flags"] & EPHEMERAL and titles(from_menu) == ["w0"]
    assert emulator.message(message["id"]) == message


async def record_bot_batch(
    db: Database, lora_id: str, user_id: int, prompt: str, images: list[dict[str, Any]]
) -> str:
    """A /generate batch as the bot stores it: the batch, its images linked to it."""
    batch_id = new_id()
    finished = images[0]["created_at"]
    await db.execute(
        "INSERT INTO generation_batches (id, wallet_address, discord_user_id, "
        "lora_training_id, prompt, status, image_count, created_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, 'completed', ?, ?, ?)",
        (batch_id, images[0]["wallet_address"], str(user_id), lora_id, prompt, len(images),
         finished, finished),
    )  # fmt: skip
    await insert_images(db, images)
    for image in images:
        await db.execute(
            "INSERT INTO batch_images (image_id, batch_id) VALUES (?, ?)", (image["id"], batch_id)
        )
    return batch_id


def batches_shown(message: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """Each batch: its line, its images' URLs and their descriptions, in order."""
    found = []
    components = walk(message["components"])
    for n, component in enumerate(components):
        if component["type"] == GALLERY_ITEMS and components[n - 1]["type"] == TEXT_DISPLAY:
            line = components[n - 1]["content"]
            if line.startswith("## ") or line.startswith("**"):
                continue  # the training images under the heading
            items = component["items"]
            found.append(
                (line, [i["media"]["url"] for i in items], [i.get("description") for i in items])
            )
    return found


async def test_lora_pages_through_its_batches(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    subject = lora_row(trigger_word="Moody Light")
    # The web app's batches: four images inserted at once, the same time and prompt.
    web = [
        [image_row(subject["id"], minutes=m, prompt=f"prompt {m}") for _ in range(4)]
        for m in range(3)
    ]
    bot_images = [image_row(subject["id"], minutes=3, prompt="prompt 3") for _ in range(4)]
    async with harness.running() as bot:
        await insert_loras(bot.db, [subject, lora_row(trigger_word="other")])
        for batch in web:
            await insert_images(bot.db, batch)
        batch_id = await record_bot_batch(bot.db, subject["id"], BOB, "prompt 3", bot_images)
        await bot.services.gallery.db.run(_record_post, batch_id)
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": "moody light"})
        response = await ix.response()
        assert response["type"] == DEFERRED_MESSAGE  # public "thinking…"
        assert not (response.get("data", {}).get("flags") or 0) & EPHEMERAL
        message = await ix.original()

        def shown() -> tuple[str, str, list[tuple[str, list[str], list[str]]]]:
            current = emulator.message(message["id"])
            header = next(
                line for line in texts(current).split("\n") if line.startswith("**Generated")
            )
            return page_of(current), header, batches_shown(current)

        page, header, batches = shown()
        assert (page, header) == ("1/2", "**Generated images** 1–8 of 16, newest first")
        assert [b[1] for b in batches] == [
            [i["image_url"] for i in bot_images],  # in the order they were stored
            [i["image_url"] for i in web[2]],
        ]
        assert batches[0][2] == [f"{n} of 4: prompt 3" for n in range(1, 5)]
        assert re.fullmatch(
            r"prompt 3 · by <@43> · <t:\d+:R> · "
            r"\[thread post\]\(https://discord\.com/channels/1/900/901\)",
            batches[0][0],
        ), batches[0][0]
        assert re.fullmatch(
            r"prompt 2 · by \[0x1234…5678\]\(https://basescan\.org/address/0x[0-9a-fA-F]{40}\)"
            r" · <t:\d+:R>",
            batches[1][0],
        ), batches[1][0]
        await click(emulator, message, "Next ›")
        page, header, batches = shown()
        assert (page, header) == ("2/2", "**Generated images** 9–16 of 16, newest first")
        assert [b[1] for b in batches] == [[i["image_url"] for i in web[m]] for m in (1, 0)]
        private = await click(emulator, emulator.message(message["id"]), "« First", user_id=BOB)
        assert (await private.original())["flags"] & EPHEMERAL
        assert shown()[0] == "2/2"  # Bob's click left Alice's page where it was
        await click(emulator, emulator.message(message["id"]), "‹ Previous")
        assert shown()[0] == "1/2"
        generate = await click(emulator, emulator.message(message["id"]), "Generate", user_id=BOB)
        soon = (await generate.response())["data"]
        # Alice's "All LoRAs" turns her message into the gallery.
        await click(emulator, emulator.message(message["id"]), "All LoRAs")
        assert texts(emulator.message(message["id"])).startswith("**LoRA gallery**")
    assert soon["custom_id"].startswith("gen:prompt:")  # Generate asks for a prompt (modal)


def _record_post(conn: Connection, batch_id: str) -> None:
    from storage.generation_posts import in_db_record

    in_db_record(conn, batch_id, "1", "900", "901")


async def test_unknown_lora_offers_the_gallery(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(trigger_word="real")])
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": "**nope** @here"})
        [answer] = await ix.followups(count=1)  # after the public "thinking…", which went
        assert ix.original_message_id not in emulator.world.messages
        assert answer["flags"] & EPHEMERAL
        assert texts(answer).startswith("LoRA not found")
        assert "\\*\\*nope\\*\\* @\u200bhere" in texts(answer)
        back = await click(emulator, answer, "Browse the gallery")
        assert back.callback_type == DEFERRED_UPDATE
        assert titles(emulator.message(answer["id"])) == ["real"]
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": new_id()})
        [answer] = await ix.followups(count=1)
        assert answer["flags"] & EPHEMERAL and texts(answer).startswith("LoRA not found")
