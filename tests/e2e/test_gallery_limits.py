"""The largest gallery page and /lora page the database can make, sent through the real
client to the emulator: within Discord's 40 components and 4,000 characters, and no
contract violation. Also: the page's pictures cost index seeks, not scans."""

from __future__ import annotations

import re
from typing import Any

from storage.generation_posts import in_db_record
from tests.e2e.conftest import BotHarness
from tests.e2e.test_gallery import ALICE, CHANNEL, EPHEMERAL, click, open_gallery
from tests.e2e.test_lora_detail import record_bot_batch
from tests.fakes.discord import DiscordEmulator
from tests.support.acks import private_answer
from tests.support.gallery_rows import image_row, insert_images, insert_loras, lora_row
from tests.support.v2_messages import media, page_of, texts, titles, walk

ESCAPED = "*_`~|>#<@&" * 10  # 100 characters (the /train limit), every one escaped
LONG_ID = "Long.Id/ü:" * 30  # 300 characters: buttons carry it by a handle
SNOWFLAKE = 2**63 - 1  # the longest jump links


def long_id(n: int) -> str:
    return f"{n:03d}-{LONG_ID}"[:300]


def measure(message: dict[str, Any]) -> tuple[int, int]:
    every = walk(message["components"])
    return len(every), sum(len(c["content"]) for c in every if c["type"] == 10)


async def test_the_largest_pages_fit_discords_limits(
    harness: BotHarness, emulator: DiscordEmulator
) -> None:
    wallets = [f"0x{n:040x}" for n in range(1, 9)]
    loras = [
        lora_row(
            minutes=n,
            trigger_word=ESCAPED if n % 2 else ESCAPED * 50,  # also 5,000 characters
            steps=10**15,
            images=500,
            weights="https://v3.fal.media/files/" + "w" * 3000,
            wallet=wallets[n],
            lora_id=long_id(n),
        )
        for n in range(7)
    ]
    subject = loras[-1]
    prompt = ("**@everyone** <@123> " * 40)[:500]  # /generate's longest prompt
    async with harness.running() as bot:
        await insert_loras(bot.db, loras)
        # Every LoRA on the page has a generated thumbnail with a long URL.
        await insert_images(
            bot.db,
            [
                {
                    **image_row(row["id"], minutes=100),
                    "image_url": "https://v3.fal.media/" + "t" * 1900,
                }
                for row in loras
            ],
        )
        # Twelve one-image batches of the bot's, each posted, each by someone else.
        for n in range(12):
            image = image_row(subject["id"], minutes=200 + n, prompt=prompt, wallet=wallets[n % 8])
            image["id"] = long_id(100 + n)
            batch_id = await record_bot_batch(bot.db, subject["id"], SNOWFLAKE - n, prompt, [image])
            await bot.db.run(
                in_db_record, batch_id, str(SNOWFLAKE), str(SNOWFLAKE), str(SNOWFLAKE - n)
            )

        gallery = await open_gallery(emulator)
        assert page_of(gallery) == "1/2" and len(titles(gallery)) == 5
        # The container, its header, 5 cards of 6, the controls' row of 5, the menu's row.
        assert measure(gallery)[0] == 40
        assert measure(gallery)[1] <= 4000
        assert all(url.startswith("https://v3.fal.media/") for url in media(gallery))

        ix = await emulator.run_command(
            "lora", user_id=ALICE, channel_id=CHANNEL, options={"lora": "*" + "x" * 5}
        )
        assert (await private_answer(ix))["flags"] & EPHEMERAL  # not found: private
        # Opened from its card, as a user would.
        opens = [b for b in walk(gallery["components"]) if b.get("label") == "Open"]
        opened = await emulator.click(gallery, opens[0]["custom_id"], user_id=ALICE)
        detail = await opened.original()
        pages = [detail]
        await click(emulator, detail, "Next ›")
        pages.append(emulator.message(detail["id"]))
    for page in (gallery, *pages):
        components, characters = measure(page)
        assert components <= 40 and characters <= 4000, (components, characters)
        assert all(len(b.get("custom_id") or "") <= 100 for b in walk(page["components"]))
    assert [page_of(p) for p in pages] == ["1/2", "2/2"]
    first = texts(pages[0])
    assert (
        len(re.findall(r"\[thread post\]\(https://discord\.com/channels/\d+/\d+/\d+\)", first)) == 8
    )
    assert "@everyone" not in first.replace("@\u200beveryone", "")
    assert "(No Download button: this URL is too long" in first
    emulator.assert_clean()


async def test_a_gallery_pages_pictures_are_index_seeks(harness: BotHarness) -> None:
    async with harness.running() as bot:
        plans = {
            "page": await bot.db.fetchall(
                "EXPLAIN QUERY PLAN SELECT id FROM lora_trainings WHERE status = ? "
                "AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 6",
                ("completed", "t", "i"),
            ),
            "thumbnail": await bot.db.fetchall(
                "EXPLAIN QUERY PLAN SELECT image_url FROM generated_images "
                "WHERE lora_training_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
                ("x",),
            ),
            "web batch": await bot.db.fetchall(
                "EXPLAIN QUERY PLAN SELECT id FROM generated_images gi "
                "WHERE lora_training_id = ? AND created_at = ? AND wallet_address = ? "
                "AND prompt = ? AND NOT EXISTS (SELECT 1 FROM batch_images bi "
                "WHERE bi.image_id = gi.id) ORDER BY rowid LIMIT 64",
                ("x", "t", "w", "p"),
            ),
            "bot batch": await bot.db.fetchall(
                "EXPLAIN QUERY PLAN SELECT gi.id AS id FROM batch_images bi JOIN "
                "generated_images gi ON gi.id = bi.image_id WHERE bi.batch_id = ? "
                "ORDER BY gi.rowid LIMIT 64",
                ("b",),
            ),
        }
    details = {name: " | ".join(str(r["detail"]) for r in rows) for name, rows in plans.items()}
    assert "USING COVERING INDEX idx_gen_images_lora_created" in details["thumbnail"] or (
        "USING INDEX idx_gen_images_lora_created" in details["thumbnail"]
    ), details
    assert "TEMP B-TREE" not in details["thumbnail"] + details["page"], details
    assert "idx_lora_trainings_gallery" in details["page"], details  # migration 0004
    # A web batch: a seek on (…, created_at=?) of one of the seed's or migration 0005's indexes.
    assert re.search(r"SEARCH gi USING INDEX \w+ \(.*created_at=\?\)", details["web batch"])
    # (The bot batch sorts its few rows by rowid in a temporary B-tree: at most 64.)
    assert "idx_batch_images_batch (batch_id=?)" in details["bot batch"], details
    assert not any("SCAN" in plan for plan in details.values()), details
