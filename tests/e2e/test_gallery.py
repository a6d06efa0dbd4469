"""/loras end to end (and /lora's paths shared with it; its page: test_lora_detail.py): the real bot and discord.py against the Discord emulator
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
)
from tests.support.lora_index import index_sees_writes
from tests.support.v2_messages import (
    button,
    buttons,
    card_text,
    media,
    page_of,
    texts,
    titles,
    walk,
)

EPHEMERAL = 64
ALICE, BOB = 42, 43
CHANNEL = 7
UPDATE_MESSAGE, CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE = 7, 4, 5, 6


async def click(
    emulator: DiscordEmulator, message: dict[str, Any], label: str, user_id: int = ALICE
) -> EmulatedInteraction:
    ix = await emulator.click(message, button(message, label)["custom_id"], user_id=user_id)
    await ix.response()
    assert ix.acked_after is not None and ix.acked_after < 3.0
    if ix.callback_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE):
        await ix.original()  # acknowledged first; wait for the answer itself
    return ix


async def open_gallery(
    emulator: DiscordEmulator, user_id: int = ALICE, **options: Any
) -> dict[str, Any]:
    ix = await emulator.run_command("loras", user_id=user_id, channel_id=CHANNEL, options=options)
    response = await ix.response()
    assert response["type"] == DEFERRED_MESSAGE  # acknowledged before the database work
    assert not (response.get("data", {}).get("flags") or 0) & EPHEMERAL  # public
    assert ix.acked_after is not None and ix.acked_after < 3.0
    message = await ix.original()
    assert not message["flags"] & EPHEMERAL  # the gallery is public
    return message


async def ask_gallery(
    emulator: DiscordEmulator, user_id: int = ALICE, **options: Any
) -> dict[str, Any]:
    """/loras when the answer is private (nothing to show)."""
    ix = await emulator.run_command("loras", user_id=user_id, channel_id=CHANNEL, options=options)
    response = await ix.response()
    assert response["type"] == DEFERRED_MESSAGE  # public "thinking…", then a private answer
    [answer] = await ix.followups(count=1)
    assert answer["flags"] & EPHEMERAL
    assert ix.original_message_id not in emulator.world.messages  # the public one went
    return answer


def public_messages(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    return [m for m in emulator.channel_messages(CHANNEL) if not m["flags"] & EPHEMERAL]


def sleep_in_worker(_: Connection, seconds: float) -> None:
    time.sleep(seconds)


async def test_empty_gallery_says_how_to_train_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running():
        message = await ask_gallery(emulator)
    assert texts(message).startswith("**No LoRAs trained yet.** Be the first: run `/train`")
    assert buttons(message) == []
    assert public_messages(emulator) == []  # nothing posted to the channel, no copy


async def test_one_lora_one_page_everything_shown(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    row = lora_row(trigger_word="sks style", images=12)
    async with harness.running() as bot:
        await insert_loras(bot.db, [row])
        message = await open_gallery(emulator)
        # Once something was made with it, its newest image is the thumbnail.
        made = [image_row(row["id"], minutes=m, prompt=f"p{m}") for m in (1, 3, 2)]
        await insert_images(bot.db, made)
        again = await open_gallery(emulator)
    assert texts(message).split("\n")[0] == "**LoRA gallery** · 1 LoRA"
    assert titles(message) == ["sks style"]
    facts = card_text(message, "sks style").split("\n")[1]
    assert re.fullmatch(
        r"1,000 steps · 12 training images · <t:\d+:R> · by "
        + re.escape(f"[0x1234…5678](https://basescan.org/address/{WALLET_A})"),
        facts,
    ), facts
    # The thumbnail: the first training image's small variant, never the original.
    [thumb] = media(message)
    assert thumb.startswith("https://images.are.na/")
    assert media(again) == [made[1]["image_url"]]  # the newest generated image
    # Open and Generate on the card, the menu below; no download, no raw URL, no id.
    assert [b.get("label") for b in buttons(message)] == ["Open", "Generate", None]
    menu = buttons(message)[-1]
    assert menu["custom_id"] == "lgs:open" and message["components"][-1]["type"] == 1
    assert [(o["label"], o["value"]) for o in menu["options"]] == [("sks style", row["id"])]
    assert menu["options"][0]["description"] == "1,000 steps · 12 training images · 0x1234…5678"
    assert button(message, "Open")["custom_id"].startswith("ld:o:1:")
    assert button(message, "Generate")["custom_id"] == f"gen:open:{row['id']}"
    assert button(message, "Generate")["style"] == 1 and not button(message, "Generate").get(
        "disabled"
    )
    payload = json.dumps(message["components"])
    assert ".safetensors" not in payload and "```" not in payload
    assert not re.search(r"\b[0-9a-fA-F]{32}\b", texts(message))
    assert page_of(message) == "1/1"


async def test_exactly_one_full_page_has_no_navigation(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
        message = await open_gallery(emulator)
    assert page_of(message) == "1/1"
    assert titles(message) == ["w4", "w3", "w2", "w1", "w0"]
    assert len(media(message)) == 5  # a thumbnail on every card
    assert not any((b.get("custom_id") or "").startswith("lg:") for b in buttons(message))
    assert [b.get("label") for b in buttons(message)] == ["Open", "Generate"] * 5 + [None]


async def test_paging_forward_back_last_and_first(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(12)]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        message = await open_gallery(emulator)
        # The controls are the message's last rows, below the cards: pages, then the menu.
        controls, menu = message["components"][-2:]
        assert controls["type"] == menu["type"] == 1
        assert [c["custom_id"] for c in menu["components"]] == ["lgs:open"]
        assert [b["label"] for b in controls["components"]] == [
            "« First",
            "‹ Previous",
            "Page 1 of 3",
            "Next ›",
            "Last »",
        ]
        seen = [(page_of(message), titles(message))]
        assert button(message, "« First")["disabled"] and button(message, "‹ Previous")["disabled"]
        while not button(message, "Next ›").get("disabled"):
            ix = await click(emulator, message, "Next ›")
            assert ix.callback_type == DEFERRED_UPDATE  # the invoker's message moves
            message = emulator.message(message["id"])
            seen.append((page_of(message), titles(message)))
        assert seen == [
            ("1/3", ["w11", "w10", "w9", "w8", "w7"]),
            ("2/3", ["w6", "w5", "w4", "w3", "w2"]),
            ("3/3", ["w1", "w0"]),
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
        assert (page_of(message), titles(message)) == ("3/3", ["w1", "w0"])
        await click(emulator, message, "« First")
        message = emulator.message(message["id"])
        assert (page_of(message), titles(message)) == seen[0]
        assert button(message, "Page 1 of 3")["disabled"]


async def test_buttons_keep_working_after_a_restart(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(12)])
        message = await open_gallery(emulator)
    # A new process on the same database file; the old message is all there is.
    emulator.advance_time(6 * 3600)
    async with harness.running():
        ix = await click(emulator, message, "Next ›")
        assert ix.callback_type == DEFERRED_UPDATE
        moved = emulator.message(message["id"])
        first_open = next(b for b in buttons(moved) if b.get("label") == "Open")
        ix = await emulator.click(moved, first_open["custom_id"], user_id=BOB)
        detail = await ix.original()
    assert (page_of(moved), titles(moved)) == ("2/3", ["w6", "w5", "w4", "w3", "w2"])
    assert detail["flags"] & EPHEMERAL and titles(detail) == ["w6"]


async def test_someone_elses_click_opens_their_own_private_copy(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(12)])
        message = await open_gallery(emulator, user_id=ALICE)
        ix = await click(emulator, message, "Next ›", user_id=BOB)
        assert ix.callback_type == DEFERRED_MESSAGE
        copy_ = await ix.original()
        assert copy_["flags"] & EPHEMERAL
        assert (page_of(copy_), titles(copy_)) == ("2/3", ["w6", "w5", "w4", "w3", "w2"])
        assert emulator.message(message["id"]) == message  # Alice's message did not move
        # Bob's own copy is his: his clicks move it.
        again = await click(emulator, copy_, "Next ›", user_id=BOB)
        assert again.callback_type == DEFERRED_UPDATE
        assert titles(emulator.message(copy_["id"])) == ["w1", "w0"]


async def test_filters_by_member_address_and_search(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="Cat_Style", wallet=WALLET_A),
        lora_row(minutes=2, trigger_word="catnip", wallet=WALLET_B.lower()),
        lora_row(minutes=3, trigger_word="dogs", wallet=WALLET_B),
        lora_row(minutes=4, trigger_word="CATS", wallet=WALLET_B),
        lora_row(minutes=5, trigger_word="cats again", wallet=WALLET_B),
        *[lora_row(minutes=6 + i, trigger_word=f"bobcat{i}", wallet=WALLET_B) for i in range(4)],
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        await link_wallet(bot.db, BOB, WALLET_B)  # checksummed in the link, any case in rows

        by_bob = await open_gallery(emulator, creator=BOB)
        bobs = ["bobcat3", "bobcat2", "bobcat1", "bobcat0", "cats again"]
        assert titles(by_bob) == bobs
        assert "**LoRA gallery** · 8 LoRAs · by [0xfedc…ba09]" in texts(by_bob)
        await click(emulator, by_bob, "Next ›")  # the filter travels in the button
        assert titles(emulator.message(by_bob["id"])) == ["CATS", "dogs", "catnip"]

        by_address = await open_gallery(emulator, wallet=WALLET_A.lower())
        assert titles(by_address) == ["Cat\\_Style"]

        searched = await open_gallery(emulator, search="cat")
        assert page_of(searched) == "1/2" and titles(searched) == bobs
        await click(emulator, searched, "Last »")
        assert titles(emulator.message(searched["id"])) == ["CATS", "catnip", "Cat\\_Style"]

        both = await open_gallery(emulator, creator=BOB, search="CAT")
        assert "7 LoRAs" in texts(both) and "trigger word contains “CAT”" in texts(both)

        underscore = await open_gallery(emulator, search="t_s")  # "_" is not a wildcard
        assert titles(underscore) == ["Cat\\_Style"]

        before = len(public_messages(emulator))
        nothing = await ask_gallery(emulator, search="zebra")
        assert texts(nothing) == (
            "**No LoRAs match.** No LoRA has a trigger word containing “zebra”. Try another "
            "search, or run `/loras` without filters to see every LoRA."
        )
        nobody = await ask_gallery(emulator, wallet="0x" + "ab" * 20)
        assert texts(nobody).startswith(
            "**No LoRAs match.** No LoRA by [0xabab…abab](https://basescan.org/address/0x"
        )
        assert "has been trained yet." in texts(nobody)
        assert len(public_messages(emulator)) == before  # private, and nothing else posted
        await click(emulator, nothing, "Show all LoRAs")
        shown = emulator.message(nothing["id"])
        assert page_of(shown) == "1/2" and shown["flags"] & EPHEMERAL

        refusals = [
            await emulator.run_command("loras", user_id=ALICE, options={"creator": ALICE}),
            await emulator.run_command("loras", user_id=ALICE, options={"wallet": "0x1234"}),
            await emulator.run_command(
                "loras", user_id=ALICE, options={"creator": BOB, "wallet": WALLET_A}
            ),
        ]
        # The member's wallet is read once acknowledged: "thinking…", then privately.
        assert (await refusals[0].response())["type"] == DEFERRED_MESSAGE
        [unlinked] = await refusals[0].followups(count=1)
        assert refusals[0].original_message_id not in emulator.world.messages
        answers = [unlinked] + [(await ix.response())["data"] for ix in refusals[1:]]
    assert all(a["flags"] & EPHEMERAL for a in answers)
    assert "hasn't linked a wallet" in answers[0]["content"]
    assert "isn't a wallet address" in answers[1]["content"]
    assert "not both" in answers[2]["content"]


async def test_lora_and_generate_autocompletes_show_the_same(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="watercolor"),
        lora_row(minutes=2, trigger_word="dark water"),
        lora_row(minutes=3, trigger_word="Water"),
        lora_row(minutes=4, trigger_word="waterfall", status="pending"),
        *[lora_row(minutes=10 + i, trigger_word=f"zz{i}") for i in range(30)],
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, rows)
        await index_sees_writes(bot)
        water = await emulator.autocomplete("lora", focused="lora", value="wAter")
        generate = await emulator.autocomplete(
            "generate", focused="lora", value="wAter", options={"prompt": "a cat"}
        )
        many = await emulator.autocomplete("lora", focused="lora", value="zz")
        blank = await emulator.autocomplete("lora", focused="lora", value="")
        by_id = await emulator.autocomplete("lora", focused="lora", value=rows[0]["id"][:10])
        await bot.db.close()
        # From memory: the suggestions do not need the database.
        down = await emulator.autocomplete("lora", focused="lora", value="water")
    assert [c["name"].split(" · ")[0] for c in water] == ["Water", "watercolor", "dark water"]
    assert water[0]["value"] == rows[2]["id"]
    assert water[0]["name"] == "Water · 1,000 steps · 0x1234…5678"
    assert generate == water  # one text, one value, in every LoRA picker
    assert len(many) == 25 and len(blank) == 25
    assert blank[0]["name"].startswith("zz29")
    assert by_id[0]["value"] == rows[0]["id"]
    assert down == water


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
        # Searches are matched as typed (invisible characters dropped), mentions included.
        found = await open_gallery(emulator, search="@every\u200bone** `rm")
        assert len(titles(found)) == 1 and "rm -rf" in titles(found)[0]
    assert len(walk(message["components"])) <= 40 and len(texts(message)) <= 4000
    assert all(len(b.get("label") or "") <= 80 for b in buttons(message))
    text = json.dumps(message, ensure_ascii=False)
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@&123456789012345678>" not in text
    first, underscores, broken, heading = titles(message)
    assert first.startswith("\\*\\*@\u200beveryone\\*\\* \\`rm -rf\\` \\~\\~x\\~\\~")
    assert "…" not in first and "<@&\u200b123456789012345678>" in first  # all 100 shown
    assert "500 training images" in card_text(message, first)
    assert underscores == "\\_" * 100
    assert (
        card_text(message, broken)
        .split("\n")[1]
        .startswith("1,000 steps · training images unknown")
    )
    assert heading == "\\# heading > quote"
    assert len(media(message)) == 1  # only the first has a training image to show
    generates = [b for b in buttons(message) if b.get("label") == "Generate"]
    assert [bool(b.get("disabled")) for b in generates] == [False, True, False, False]


async def test_forged_custom_ids_are_refused_privately(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    forged = [
        "lg:n:2:!!!!::",
        "lg:x:1:::",
        "lg:f:1:::" + "y" * 60,
        "ld:f:1:::",
        "ld:n:1:AAAAAAAAAAAAAAAAAAAAAA:",
        "ld:o:1:!!:",
        "gen:open:../../etc",
        "lgs:open",  # a button claiming to be the menu: no value
    ]
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i) for i in range(7)])
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
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(12)])
        message = await open_gallery(emulator)
        await bot.db.close()  # the database goes away
        failed = await emulator.click(message, button(message, "Next ›")["custom_id"])
        assert (await failed.response())["type"] == DEFERRED_UPDATE  # acknowledged first
        [error] = await failed.followups(count=1)
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
        [command_error] = await command.followups(count=1)
        assert command.original_message_id not in emulator.world.messages
        assert command_error["flags"] & EPHEMERAL and "Retry" in command_error["content"]

        await bot.db.open()  # back
        retried = await click(emulator, error, "Retry")
        assert retried.callback_type == DEFERRED_UPDATE  # the error becomes the page asked for
        page = emulator.message(error["id"])
        assert (page_of(page), titles(page)) == ("2/3", ["w6", "w5", "w4", "w3", "w2"])
        again = await click(emulator, command_error, "Retry")
        fresh = await again.original()
        assert not fresh["flags"] & EPHEMERAL  # the command's retry posts the gallery
        assert (page_of(fresh), titles(fresh)) == ("1/3", ["w11", "w10", "w9", "w8", "w7"])


async def test_a_slow_database_still_answers_within_three_seconds(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    async with harness.running() as bot:
        await insert_loras(bot.db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(12)])
        message = await open_gallery(emulator)
        busy = asyncio.create_task(bot.db.run(sleep_in_worker, 2.6))
        await asyncio.sleep(0.05)
        ix = await emulator.click(message, button(message, "Next ›")["custom_id"], user_id=ALICE)
        assert (await ix.response(timeout=5))["type"] == DEFERRED_UPDATE
        assert ix.acked_after is not None and ix.acked_after < 3.0
        moved = await ix.original(timeout=10)
        await busy
    assert titles(moved) == ["w6", "w5", "w4", "w3", "w2"]


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
        assert answer["flags"] & EPHEMERAL and texts(answer).startswith("LoRA not found")
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
