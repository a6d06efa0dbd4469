"""/loras and /lora end to end: the real bot and discord.py against the Discord emulator
(which validates every message against Discord's OpenAPI spec) and the embedded database
seeded with rows in the web app's formats."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from typing import Any

import pytest

from storage.db import Connection, DatabaseError
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator
from tests.fakes.discord.driver import dispatch_interaction
from tests.fakes.discord.interactions import MESSAGE_COMPONENT, EmulatedInteraction
from tests.support.gallery_rows import (
    WALLET_A,
    WALLET_B,
    image_row,
    insert_images,
    insert_loras,
    link_wallet,
    lora_row,
    new_id,
)

EPHEMERAL = 64
ALICE, BOB = 42, 43
CHANNEL = 7
UPDATE_MESSAGE, CHANNEL_MESSAGE, DEFERRED_UPDATE = 7, 4, 6


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row["components"]]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if (b.get("label") or "").startswith(label)]
    assert len(found) == 1, [b.get("label") for b in buttons(message)]
    return found[0]


def titles(message: dict[str, Any]) -> list[str]:
    return [e["title"] for e in message["embeds"] if e.get("title")]


def page_of(message: dict[str, Any]) -> str:
    match = re.search(r"page ([\d,]+) of ([\d,]+)", message["content"])
    assert match, message["content"]
    return f"{match[1]}/{match[2]}"


async def click(
    emulator: DiscordEmulator, message: dict[str, Any], label: str, user_id: int = ALICE
) -> EmulatedInteraction:
    ix = await emulator.click(message, button(message, label)["custom_id"], user_id=user_id)
    await ix.response()
    assert ix.acked_after is not None and ix.acked_after < 3.0
    return ix


async def open_gallery(
    emulator: DiscordEmulator, user_id: int = ALICE, **options: Any
) -> dict[str, Any]:
    ix = await emulator.run_command("loras", user_id=user_id, channel_id=CHANNEL, options=options)
    response = await ix.response()
    assert response["type"] == CHANNEL_MESSAGE
    assert not (response["data"].get("flags") or 0) & EPHEMERAL  # the gallery is public
    assert ix.acked_after is not None and ix.acked_after < 3.0
    return await ix.original()


def sleep_in_worker(_: Connection, seconds: float) -> None:
    time.sleep(seconds)


async def test_empty_gallery_says_how_to_train(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        message = await open_gallery(emulator)
    assert titles(message) == ["No LoRAs trained yet"]
    assert "`/train`" in message["embeds"][0]["description"]
    assert message["components"] == []


async def test_one_lora_one_page_everything_shown(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    row = lora_row(trigger_word="sks style", images=12)
    async with harness.running() as bot:
        await insert_loras(bot.db, [row])
        message = await open_gallery(emulator)
    assert message["content"] == "**LoRA gallery** · page 1 of 1 · 1 LoRA"
    embeds = message["embeds"]
    assert len(embeds) == 4  # one card and three more thumbnails: one 4-image grid
    assert {e["url"] for e in embeds} == {row["lora_weights_url"]}
    assert all(e["image"]["url"].startswith("https://images.are.na/") for e in embeds)
    card = embeds[0]
    assert card["title"] == "sks style"
    assert "**Steps** 1,000 · **Images** 12 (4 shown, +8)" in card["description"]
    assert f"```\n{row['lora_weights_url']}\n```" in card["description"]
    assert "[0x1234…5678](https://basescan.org/address/" + WALLET_A + ")" in card["description"]
    assert re.search(r"<t:\d+:R> · <t:\d+:f>", card["description"])
    assert card["footer"]["text"] == f"ID {row['id']}"
    # No navigation for a single page; a menu to open it and a download link.
    assert [b.get("label") for b in buttons(message)] == [None, f"Download {row['trigger_word']}"]
    download = buttons(message)[1]
    assert download["style"] == 5 and download["url"] == row["lora_weights_url"]
    menu = buttons(message)[0]
    assert [o["value"] for o in menu["options"]] == [row["id"]]


async def test_exactly_one_full_page_has_no_navigation(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(2)])
        message = await open_gallery(emulator)
    assert page_of(message) == "1/1"
    assert titles(message) == ["w1", "w0"]
    assert len(message["embeds"]) == 8
    assert not any((b.get("custom_id") or "").startswith("lg:") for b in buttons(message))


async def test_paging_forward_back_last_and_first(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(7)]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        message = await open_gallery(emulator)
        seen = [(page_of(message), titles(message))]
        assert button(message, "« First")["disabled"] and button(message, "‹ Previous")["disabled"]
        while not button(message, "Next ›").get("disabled"):
            ix = await click(emulator, message, "Next ›")
            assert ix.callback_type == UPDATE_MESSAGE  # the invoker's message moves
            message = emulator.message(message["id"])
            seen.append((page_of(message), titles(message)))
        assert seen == [
            ("1/4", ["w6", "w5"]),
            ("2/4", ["w4", "w3"]),
            ("3/4", ["w2", "w1"]),
            ("4/4", ["w0"]),
        ]
        assert button(message, "Last »")["disabled"]
        back = []
        while not button(message, "‹ Previous").get("disabled"):
            await click(emulator, message, "‹ Previous")
            message = emulator.message(message["id"])
            back.append((page_of(message), titles(message)))
        assert back == seen[-2::-1]
        await click(emulator, message, "Last »")
        message = emulator.message(message["id"])
        assert (page_of(message), titles(message)) == ("4/4", ["w0"])
        await click(emulator, message, "« First")
        message = emulator.message(message["id"])
        assert (page_of(message), titles(message)) == ("1/4", ["w6", "w5"])
        assert button(message, "Page 1 of 4")["disabled"]


async def test_buttons_keep_working_after_a_restart(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
        message = await open_gallery(emulator)
    # A new process on the same database file; the old message is all there is.
    emulator.advance_time(6 * 3600)
    async with harness.running():
        ix = await click(emulator, message, "Next ›")
        assert ix.callback_type == UPDATE_MESSAGE
        moved = emulator.message(message["id"])
    assert (page_of(moved), titles(moved)) == ("2/3", ["w2", "w1"])


async def test_someone_elses_click_opens_their_own_private_copy(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
        message = await open_gallery(emulator, user_id=ALICE)
        ix = await click(emulator, message, "Next ›", user_id=BOB)
        assert ix.callback_type == CHANNEL_MESSAGE
        copy_ = await ix.original()
        assert copy_["flags"] & EPHEMERAL
        assert (page_of(copy_), titles(copy_)) == ("2/3", ["w2", "w1"])
        assert emulator.message(message["id"]) == message  # Alice's message did not move
        # Bob's own copy is his: his clicks move it.
        again = await click(emulator, copy_, "Next ›", user_id=BOB)
        assert again.callback_type == UPDATE_MESSAGE
        assert titles(emulator.message(copy_["id"])) == ["w0"]


async def test_filters_by_member_address_and_search(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="Cat_Style", wallet=WALLET_A),
        lora_row(minutes=2, trigger_word="catnip", wallet=WALLET_B.lower()),
        lora_row(minutes=3, trigger_word="dogs", wallet=WALLET_B),
        lora_row(minutes=4, trigger_word="CATS", wallet=WALLET_B),
        lora_row(minutes=5, trigger_word="cats again", wallet=WALLET_B),
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        await link_wallet(bot.db, BOB, WALLET_B)  # checksummed in the link, any case in rows

        by_bob = await open_gallery(emulator, creator=BOB)
        assert titles(by_bob) == ["cats again", "CATS"]
        assert "4 LoRAs · by [0xfedc…ba09]" in by_bob["content"]
        await click(emulator, by_bob, "Next ›")  # the filter travels in the button
        assert titles(emulator.message(by_bob["id"])) == ["dogs", "catnip"]

        by_address = await open_gallery(emulator, wallet=WALLET_A.lower())
        assert titles(by_address) == ["Cat\\_Style"]

        searched = await open_gallery(emulator, search="cat")
        assert page_of(searched) == "1/2" and titles(searched) == ["cats again", "CATS"]
        await click(emulator, searched, "Last »")
        assert titles(emulator.message(searched["id"])) == ["catnip", "Cat\\_Style"]

        both = await open_gallery(emulator, creator=BOB, search="CAT")
        assert "3 LoRAs" in both["content"] and "trigger word contains “CAT”" in both["content"]

        underscore = await open_gallery(emulator, search="t_s")  # "_" is not a wildcard
        assert titles(underscore) == ["Cat\\_Style"]

        nothing = await open_gallery(emulator, search="zebra")
        assert titles(nothing) == ["No LoRAs match"]
        await click(emulator, nothing, "Show all LoRAs")
        assert page_of(emulator.message(nothing["id"])) == "1/3"

        refusals = [
            await emulator.run_command("loras", user_id=ALICE, options={"creator": ALICE}),
            await emulator.run_command("loras", user_id=ALICE, options={"wallet": "0x1234"}),
            await emulator.run_command(
                "loras", user_id=ALICE, options={"creator": BOB, "wallet": WALLET_A}
            ),
        ]
        answers = [(await ix.response())["data"] for ix in refusals]
    assert all(a["flags"] & EPHEMERAL for a in answers)
    assert "hasn't linked a wallet" in answers[0]["content"]
    assert "isn't a wallet address" in answers[1]["content"]
    assert "not both" in answers[2]["content"]


async def test_the_menu_opens_a_lora_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(3)]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        message = await open_gallery(emulator)
        ix = await emulator.select(message, "lgs:open", [rows[1]["id"]], user_id=BOB)
        assert (await ix.response())["type"] == CHANNEL_MESSAGE
        detail = await ix.original()
        assert emulator.message(message["id"]) == message
    assert detail["flags"] & EPHEMERAL
    assert titles(detail) == ["w1"]
    assert "No images generated yet" in detail["embeds"][0]["fields"][0]["value"]
    labels = [b.get("label") for b in buttons(detail)]
    assert labels == ["Generate", "Download weights", "All LoRAs"]


async def test_lora_autocomplete(harness: BotHarness, emulator: DiscordEmulator) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="watercolor"),
        lora_row(minutes=2, trigger_word="dark water"),
        lora_row(minutes=3, trigger_word="Water"),
        lora_row(minutes=4, trigger_word="waterfall", status="pending"),
        *[lora_row(minutes=10 + i, trigger_word=f"zz{i}") for i in range(30)],
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        water = await emulator.autocomplete("lora", focused="lora", value="wAter")
        many = await emulator.autocomplete("lora", focused="lora", value="zz")
        blank = await emulator.autocomplete("lora", focused="lora", value="")
        by_id = await emulator.autocomplete("lora", focused="lora", value=rows[0]["id"][:10])
        await bot.db.close()
        down = await emulator.autocomplete("lora", focused="lora", value="water")
    assert [c["name"].split(" · ")[0] for c in water] == ["Water", "watercolor", "dark water"]
    assert water[0]["value"] == rows[2]["id"]
    assert water[0]["name"] == "Water · 1,000 steps · 0x1234…5678"
    assert len(many) == 25 and len(blank) == 25
    assert blank[0]["name"].startswith("zz29")
    assert by_id[0]["value"] == rows[0]["id"]
    assert down == []


async def test_lora_by_trigger_word_pages_through_generated_images(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    subject = lora_row(trigger_word="Moody Light")
    images = [image_row(subject["id"], minutes=i, prompt=f"prompt {i}") for i in range(10)]
    async with harness.running() as bot:
        await insert_loras(bot.db, [subject, lora_row(trigger_word="other")])
        await insert_images(bot.db, images)
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": "moody light"})
        assert not ((await ix.response())["data"].get("flags") or 0) & EPHEMERAL
        message = await ix.original()

        def shown() -> tuple[str, list[str]]:
            current = emulator.message(message["id"])
            card = current["embeds"][0]
            prompts = re.findall(r"prompt (\d+)", card["fields"][0]["value"])
            assert [e["image"]["url"] for e in current["embeds"]] == [
                next(i["image_url"] for i in images if i["prompt"] == f"prompt {p}")
                for p in prompts
            ]
            return card["footer"]["text"].split(" · ID")[0], prompts

        assert shown() == ("Images 1–4 of 10 · page 1 of 3", ["9", "8", "7", "6"])
        await click(emulator, message, "Next ›")
        assert shown() == ("Images 5–8 of 10 · page 2 of 3", ["5", "4", "3", "2"])
        await click(emulator, emulator.message(message["id"]), "Next ›")
        assert shown() == ("Images 9–10 of 10 · page 3 of 3", ["1", "0"])
        await click(emulator, emulator.message(message["id"]), "‹ Previous")
        assert shown() == ("Images 5–8 of 10 · page 2 of 3", ["5", "4", "3", "2"])
        private = await click(emulator, emulator.message(message["id"]), "« First", user_id=BOB)
        assert (await private.original())["flags"] & EPHEMERAL
        generate = await click(emulator, emulator.message(message["id"]), "Generate", user_id=BOB)
        soon = (await generate.response())["data"]
        # Alice's "All LoRAs" turns her message into the gallery.
        await click(emulator, emulator.message(message["id"]), "All LoRAs")
        assert emulator.message(message["id"])["content"].startswith("**LoRA gallery**")
    assert soon["custom_id"].startswith("gen:prompt:")  # Generate asks for a prompt (modal)


async def test_unknown_lora_offers_the_gallery(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(trigger_word="real")])
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": "**nope** @here"})
        answer = await ix.original()
        assert answer["flags"] & EPHEMERAL
        assert answer["content"].startswith("LoRA not found")
        assert "\\*\\*nope\\*\\* @\u200bhere" in answer["content"]
        back = await click(emulator, answer, "Browse the gallery")
        assert back.callback_type == UPDATE_MESSAGE
        assert titles(emulator.message(answer["id"])) == ["real"]
        ix = await emulator.run_command("lora", user_id=ALICE, options={"lora": new_id()})
        assert (await ix.original())["content"].startswith("LoRA not found")


async def test_hostile_rows_render_within_limits(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    nasty = ("**@everyone** `rm -rf` ~~x~~ ||spoiler|| <@&123456789012345678> 🔥" * 3)[:100]
    rows = [
        lora_row(minutes=4, trigger_word=nasty, images=500),
        lora_row(minutes=3, trigger_word="_" * 100, weights=None, images=0),
        lora_row(minutes=2, trigger_word="broken list", image_urls='["unterminated'),
        lora_row(minutes=1, trigger_word="# heading\n> quote", image_urls='{"not": "a list"}'),
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        message = await open_gallery(emulator)
        await click(emulator, message, "Next ›")
        second = emulator.message(message["id"])
        # Searches are matched as typed (invisible characters dropped), mentions included.
        found = await open_gallery(emulator, search="@every\u200bone** `rm")
        assert len(titles(found)) == 1 and "rm -rf" in titles(found)[0]
    for current in (message, second):
        total = sum(
            len(e.get("title", ""))
            + len(e.get("description", ""))
            + len(e.get("footer", {}).get("text", ""))
            for e in current["embeds"]
        )
        assert total <= 6000 and len(current["embeds"]) <= 10
        assert all(len(b.get("label") or "") <= 80 for b in buttons(current))
    text = json.dumps(message, ensure_ascii=False)
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    card = message["embeds"][0]
    assert "Images** 500 (4 shown, +496)" in card["description"]
    assert len(message["embeds"]) == 5  # 4 thumbnails, then the underscore LoRA's card
    underscores = message["embeds"][4]
    assert "none recorded" in underscores["description"] and "image" not in underscores
    downloads = [b["label"] for b in buttons(message) if b.get("url")]
    assert len(downloads) == 1  # none for the LoRA without weights
    assert downloads[0].startswith("Download **@\u200beveryone** `rm -rf`")
    assert len(downloads[0]) == 80 and downloads[0].endswith("…")
    assert titles(second) == ["broken list", "\\# heading > quote"]
    assert all("image" not in e for e in second["embeds"])
    assert all(
        "unknown (the stored list is unreadable)" in e["description"] for e in second["embeds"]
    )


async def test_forged_custom_ids_are_refused_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    forged = [
        "lg:n:2:!!!!::",
        "lg:x:1:::",
        "lg:f:1:::" + "y" * 60,
        "ld:f:1:::",
        "ld:n:1:AAAAAAAAAAAAAAAAAAAAAA:",
        "gen:open:../../etc",
        "lgs:open",  # a button claiming to be the menu: no value
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i) for i in range(3)])
        message = await open_gallery(emulator)
        answers = []
        for custom_id in forged:
            doctored = copy.deepcopy(message)
            doctored["components"] = [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}],
                }
            ]
            data = {"custom_id": custom_id, "component_type": 2}
            ix = await dispatch_interaction(
                emulator,
                MESSAGE_COMPONENT,
                BOB,
                emulator.world.channels[CHANNEL],
                data,
                source=doctored,
            )
            answers.append((await ix.response())["data"])
        # A well-formed id for a page that does not exist any more: the newest page.
        valid_but_gone = "lg:n:5:AAAAAAAAAAAAAAAAAAAAAA::"
        doctored = copy.deepcopy(message)
        doctored["components"] = [
            {
                "type": 1,
                "components": [{"type": 2, "style": 2, "label": "x", "custom_id": valid_but_gone}],
            }
        ]
        ix = await dispatch_interaction(
            emulator,
            MESSAGE_COMPONENT,
            BOB,
            emulator.world.channels[CHANNEL],
            {"custom_id": valid_but_gone, "component_type": 2},
            source=doctored,
        )
        newest = await ix.original()
        assert emulator.message(message["id"]) == message
    for answer in answers:
        assert answer["flags"] & EPHEMERAL
        assert "isn't one I can use" in answer["content"] or "not found" in answer["content"]
    assert newest["flags"] & EPHEMERAL and page_of(newest) == "1/2"


async def test_database_error_gives_a_private_message_with_retry(
    harness: BotHarness, emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
        message = await open_gallery(emulator)
        await bot.db.close()  # the database goes away
        failed = await click(emulator, message, "Next ›")
        error = await failed.original()
        assert error["flags"] & EPHEMERAL
        match = re.fullmatch(
            r"The bot's database isn't answering right now\. Press Retry in a moment "
            r"\(ref ([A-Z2-9]{6})\)\.",
            error["content"],
        )
        assert match, error["content"]
        assert any(getattr(r, "ref", None) == match[1] and r.exc_info for r in caplog.records)
        assert emulator.message(message["id"]) == message

        command = await emulator.run_command("loras", user_id=ALICE)
        command_error = await command.original()
        assert command_error["flags"] & EPHEMERAL and "Retry" in command_error["content"]

        await bot.db.open()  # back
        retried = await click(emulator, error, "Retry")
        assert retried.callback_type == UPDATE_MESSAGE  # the error becomes the page asked for
        page = emulator.message(error["id"])
        assert (page_of(page), titles(page)) == ("2/3", ["w2", "w1"])
        again = await click(emulator, command_error, "Retry")
        fresh = await again.original()
        assert not fresh["flags"] & EPHEMERAL  # the command's retry posts the gallery
        assert (page_of(fresh), titles(fresh)) == ("1/3", ["w4", "w3"])


async def test_a_slow_database_still_answers_within_three_seconds(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
        message = await open_gallery(emulator)
        busy = asyncio.create_task(bot.db.run(sleep_in_worker, 2.6))
        await asyncio.sleep(0.05)
        ix = await emulator.click(message, button(message, "Next ›")["custom_id"], user_id=ALICE)
        assert (await ix.response(timeout=5))["type"] == DEFERRED_UPDATE
        assert ix.acked_after is not None and ix.acked_after < 3.0
        moved = await ix.original(timeout=10)
        await busy
    assert titles(moved) == ["w2", "w1"]


async def test_slow_commands_defer_and_keep_private_answers_private(
    harness: BotHarness, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(trigger_word="only")])
        busy = asyncio.create_task(bot.db.run(sleep_in_worker, 2.4))
        await asyncio.sleep(0.05)
        slow = await emulator.run_command("loras", user_id=ALICE)
        assert (await slow.response())["type"] == 5  # "thinking…", public
        assert slow.acked_after is not None and slow.acked_after < 3.0
        gallery = await slow.original(timeout=10)
        assert not gallery["flags"] & EPHEMERAL and titles(gallery) == ["only"]
        await busy

        # "Not found" is private even after a public deferral.
        busy = asyncio.create_task(bot.db.run(sleep_in_worker, 2.4))
        await asyncio.sleep(0.05)
        missing = await emulator.run_command("lora", user_id=ALICE, options={"lora": "nope"})
        assert (await missing.response())["type"] == 5
        [answer] = await missing.followups(count=1, timeout=10)
        await busy
        assert answer["flags"] & EPHEMERAL and answer["content"].startswith("LoRA not found")
        assert missing.original_message_id not in emulator.world.messages

        # So is an error that comes after the deferral, with its Retry button.
        async def slow_failure(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(2.3)
            raise DatabaseError("database is locked")

        monkeypatch.setattr(bot.services.gallery, "page", slow_failure)
        failing = await emulator.run_command("loras", user_id=ALICE)
        assert (await failing.response())["type"] == 5
        [error] = await failing.followups(count=1, timeout=10)
    assert error["flags"] & EPHEMERAL
    assert "Press Retry" in error["content"]
    assert [b["label"] for b in buttons(error)] == ["Retry"]
    assert failing.original_message_id not in emulator.world.messages
