"""/generate end to end: the real bot, the Discord emulator, a fake fal over HTTP, the
real embedded database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import LoraBot
from storage.timefmt import iso
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator, GuildSetup
from tests.fakes.fal import FakeFal, tiny_png
from tests.support.acks import private_answer
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row

EPHEMERAL = 64
ALICE, BOB = 42, 43
CHANNEL = 7


@pytest.fixture
async def fal() -> AsyncIterator[FakeFal]:
    fake = await FakeFal().start()
    try:
        yield fake
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def generating_bot(
    harness: BotHarness, fal: FakeFal, **overrides: Any
) -> AsyncIterator[LoraBot]:
    async with harness.running(
        fal_key="fake-key:not-a-real-secret",
        fal_queue_url=fal.base_url,
        media_hosts="127.0.0.1",
        **overrides,
    ) as bot:
        assert bot.services.generator is not None and bot.services.generator.fal is not None
        bot.services.generator.fal.poll_interval = 0.01  # the fake answers at once
        yield bot


async def seeded(bot: LoraBot, **lora: Any) -> dict[str, Any]:
    row = lora_row(trigger_word=lora.pop("trigger_word", "sks style"), **lora)
    await insert_loras(bot.db, [row])
    return row


async def quota_rows(bot: LoraBot) -> list[dict[str, Any]]:
    return await bot.db.fetchall("SELECT status, image_count FROM generation_batches")


async def generate(emulator: DiscordEmulator, lora_id: str, prompt: str, user: int = ALICE) -> Any:
    return await emulator.run_command(
        "generate", user_id=user, channel_id=CHANNEL, options={"lora": lora_id, "prompt": prompt}
    )


async def refusals_of(emulator: DiscordEmulator, interactions: list[Any]) -> list[dict[str, Any]]:
    """The private "quota used up" answers: a direct reply when the slot was gone before
    the request was acknowledged, else a followup after the public "Generating…"."""

    def refused(ix: Any) -> bool:
        return bool(ix.followup_ids) or bool(
            ix.callback and ix.callback.get("data", {}).get("flags", 0) & EPHEMERAL
        )

    await emulator.wait_until(
        lambda: sum(refused(ix) for ix in interactions) >= len(interactions) - 1,
        what="every loser to be refused",
        timeout=15,
    )
    answers = []
    for ix in interactions:
        if ix.followup_ids:
            answers += await ix.followups(count=1)
        elif refused(ix):
            answers.append((await ix.response())["data"])
    return answers


async def wait_thread_message(emulator: DiscordEmulator) -> dict[str, Any]:
    await emulator.wait_until(
        lambda: any(emulator.channel_messages(int(t["id"])) for t in emulator.threads),
        what="a message in a thread",
        timeout=10,
    )
    thread = next(t for t in emulator.threads if emulator.channel_messages(int(t["id"])))
    return emulator.channel_messages(int(thread["id"]))[-1]


async def with_full_size_links(emulator: DiscordEmulator, posted: dict[str, Any]) -> dict[str, Any]:
    """The result post once its full-size links (Discord's own copies) were added."""
    await emulator.wait_until(
        lambda: any(
            "url" in c
            for row in emulator.message(int(posted["id"])).get("components", [])
            for c in row["components"]
        ),
        what="the full-size links",
    )
    message: dict[str, Any] = emulator.message(int(posted["id"]))
    return message


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        c["label"]: c.get("custom_id", c.get("url", ""))
        for row in message.get("components", [])
        for c in row["components"]
    }


async def test_happy_path_thread_four_attachments_four_rows(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot, trigger_word="mystyle")
        ix = await generate(emulator, lora["id"], "a cat on the moon")
        first = await ix.response()
        assert first["type"] == 5  # acknowledged before the wallet, LoRA and quota checks
        # public: the thread hangs off it
        assert not (first.get("data") or {}).get("flags", 0) & EPHEMERAL
        posted = await wait_thread_message(emulator)
        thread = emulator.threads[0]
        assert thread["name"] == "mystyle · a cat on the moon"
        assert len(posted["attachments"]) == 4
        assert [emulator.attachment_bytes(a) for a in posted["attachments"]] == [
            tiny_png(i) for i in range(4)
        ]
        embed = posted["embeds"][0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Quota"] == "7 of 8 left today"
        assert fields["Seed"] == "`18446744073709551557`"
        assert fields["Size"] == "1024×1024"
        # Who asked is named, and never pinged (no allowed mentions on any request).
        assert posted["content"] == f"Asked by <@{ALICE}>"
        assert all(p["allowed_mentions"] == {"parse": []} for p in emulator.sent_payloads(posted))
        posted = await with_full_size_links(emulator, posted)
        assert buttons(posted) == {
            **{f"{n} · full size": a["url"] for n, a in enumerate(posted["attachments"], 1)},
            "Same seed": buttons(posted)["Same seed"],
            "Generate again": buttons(posted)["Generate again"],
            "Open LoRA": buttons(posted)["Open LoRA"],
            "Delete": buttons(posted)["Delete"],
        }
        assert [c["label"] for c in posted["components"][1]["components"]] == [
            "Same seed",
            "Generate again",
            "Open LoRA",
            "Delete",
        ]
        # Where the batch went, for the LoRA page's jump link: the thread and this post.
        (post,) = await bot.db.fetchall("SELECT * FROM generation_posts")
        assert (post["guild_id"], post["channel_id"], post["message_id"]) == (
            "1",
            thread["id"],
            posted["id"],
        )
        rows = await bot.db.fetchall(
            "SELECT * FROM generated_images WHERE lora_training_id = ?", (lora["id"],)
        )
        assert len(rows) == 4
        assert {r["prompt"] for r in rows} == {"a cat on the moon"}  # the user's own words
        assert {r["seed"] for r in rows} == {"18446744073709551557"}
        assert {r["wallet_address"] for r in rows} == {WALLET_A}
        assert fal.submissions[0].arguments["prompt"] == "a cat on the moon in the style of mystyle"
        # The reply's last edit ("Done") follows the thread post.
        await emulator.wait_until(
            lambda: emulator.message(ix.original_message_id)["embeds"][0]["footer"][
                "text"
            ].startswith("Done: 4 image(s)"),
            what="the reply to say Done",
        )
        status = await private_answer(
            await emulator.run_command("wallet status", user_id=ALICE, channel_id=CHANNEL)
        )
        generations = {f["name"]: f["value"] for f in status["embeds"][0]["fields"]}
        assert generations["Generations"] == "7 of 8 left today"


async def test_generate_again_prefills_the_prompt_and_open_lora(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        await (await generate(emulator, lora["id"], "first prompt")).response()
        posted = await wait_thread_message(emulator)
        again = await emulator.click(posted, buttons(posted)["Generate again"], user_id=ALICE)
        modal = await again.modal()
        field = modal["components"][0]["components"][0]
        assert field["value"] == "first prompt"
        submitted = await emulator.submit_modal(
            modal["custom_id"], {"prompt": "second prompt"}, user_id=ALICE
        )
        await submitted.response()
        await emulator.wait_until(lambda: len(fal.submissions) == 2, what="a second generation")
        # Asked from inside the thread, the second batch is posted right there.
        await emulator.wait_until(
            lambda: any(
                m.get("attachments")
                for m in emulator.channel_messages(int(posted["channel_id"]))[1:]
            ),
            what="the second result in the thread",
        )
        assert len(emulator.threads) == 1  # no new thread each time
        assert "seed" not in fal.submissions[1].arguments  # a new draw: fal's own seed
        opened = await emulator.click(posted, buttons(posted)["Open LoRA"], user_id=BOB)
        detail = await opened.original()
        assert detail["flags"] & EPHEMERAL
        assert len(await bot.db.fetchall("SELECT id FROM generated_images")) == 8
        # From the channel, a new /generate still opens a thread of its own.
        await (await generate(emulator, lora["id"], "third prompt")).response()
        await emulator.wait_until(lambda: len(emulator.threads) == 2, what="a second thread")


@pytest.mark.parametrize(
    ("prompt", "wallet", "lora", "expected"),
    [
        ("   ", True, {}, "prompt is empty"),
        ("\u200b\u200b\u200d", True, {}, "prompt is empty"),
        ("x" * 501, True, {}, "limit is 500"),
        ("   ", False, {}, "prompt is empty"),  # the prompt is checked first
        ("a cat", False, {}, "/wallet link"),
        ("a cat", True, {"missing": True}, "LoRA not found"),
        ("a cat", True, {"status": "pending", "weights": None}, "still training"),
        ("a cat", True, {"status": "failed", "weights": None}, "training failed"),
        ("a cat", True, {"weights": None}, "no weights file"),
    ],
)
async def test_each_check_refuses_privately_in_order(
    harness: BotHarness,
    emulator: DiscordEmulator,
    fal: FakeFal,
    prompt: str,
    wallet: bool,
    lora: dict[str, Any],
    expected: str,
) -> None:
    async with generating_bot(harness, fal) as bot:
        if wallet:
            await link_wallet(bot.db, ALICE, WALLET_A)
        missing = lora.pop("missing", False)
        row = await seeded(bot, **lora)
        target = "0123456789abcdef0123456789abcdef" if missing else row["id"]
        ix = await generate(emulator, target, prompt)
        if expected in ("prompt is empty", "limit is 500"):  # no database needed: at once
            response = await ix.response()
            assert response["type"] == 4
            answer = response["data"]
        else:  # after the public "thinking…", which goes
            answer = await private_answer(ix)
    assert answer["flags"] & EPHEMERAL
    assert expected in answer["content"]
    assert fal.submissions == []


async def test_quota_refusal_says_when_the_next_slot_frees(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        for _ in range(8):
            await bot.services.quota.complete(
                await bot.services.quota.reserve(
                    WALLET_A, user_id=ALICE, lora_id=lora["id"], prompt="p"
                ),
                [],
            )
        answer = await private_answer(await generate(emulator, lora["id"], "a cat"))
    assert answer["flags"] & EPHEMERAL
    assert "used all 8 generations" in answer["content"]
    assert "<t:" in answer["content"]
    assert fal.submissions == []


async def web_app_images(bot: LoraBot, lora_id: str, count: int, *, hours_ago: float) -> None:
    """Rows as the web app's `generate.images` writes them: its own ids, a lower-case
    address, `toISOString()` times."""
    moment = iso(datetime.now(UTC) - timedelta(hours=hours_ago))
    for _ in range(count):
        await bot.db.execute(
            "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, "
            "image_url, image_width, image_height, seed, created_at) VALUES "
            "(hex(randomblob(16)), ?, ?, 'from the web', 'https://v3.fal.media/x.jpeg', "
            "1024, 1024, '1', ?)",
            (lora_id, WALLET_A.lower(), moment),
        )


async def test_web_app_images_share_the_quota(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        await web_app_images(bot, lora["id"], 24, hours_ago=2)  # 6 web batches

        async def wallet_status() -> str:
            answer = await private_answer(
                await emulator.run_command("wallet status", user_id=ALICE, channel_id=CHANNEL)
            )
            fields = {f["name"]: f["value"] for f in answer["embeds"][0]["fields"]}
            return str(fields["Generations"])

        assert await wallet_status() == "2 of 8 left today"
        await (await generate(emulator, lora["id"], "a cat")).response()
        posted = await wait_thread_message(emulator)
        fields = {f["name"]: f["value"] for f in posted["embeds"][0]["fields"]}
        assert fields["Quota"] == "1 of 8 left today"  # 6 web + this one
        assert await wallet_status() == "1 of 8 left today"  # its 4 images are not counted again
        # The web app makes its 8th batch (4 more images, 23 hours ago): the quota is full,
        # and the next slot frees when the oldest web images leave the 24 hours.
        await web_app_images(bot, lora["id"], 4, hours_ago=23)
        assert await wallet_status() == "0 of 8 left today"
        before = len(fal.submissions)
        answer = await private_answer(await generate(emulator, lora["id"], "a dog"))
        assert answer["flags"] & EPHEMERAL
        assert "used all 8 generations" in answer["content"]
        frees = int(answer["content"].split("<t:")[1].split(":")[0])
        expected = datetime.now(UTC) + timedelta(hours=1)
        assert abs(frees - expected.timestamp()) < 60
        assert len(fal.submissions) == before


async def test_safety_filter_withholds_some_and_it_counts_once(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    fal.mode.nsfw = [False, True, False, True]
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        await (await generate(emulator, lora["id"], "a cat")).response()
        posted = await wait_thread_message(emulator)
        assert len(posted["attachments"]) == 2
        note = {f["name"]: f["value"] for f in posted["embeds"][0]["fields"]}["Note"]
        assert "withheld 2 of 4" in note
        assert len(await bot.db.fetchall("SELECT id FROM generated_images")) == 2
        assert await quota_rows(bot) == [{"status": "completed", "image_count": 2}]


@pytest.mark.parametrize("failure", ["submit500", "malformed", "result500", "timeout"])
async def test_fal_failures_release_the_slot_and_offer_retry(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal, failure: str
) -> None:
    if failure == "submit500":
        fal.mode.submit_status = 500
    elif failure == "malformed":
        fal.mode.result = "malformed"
    elif failure == "result500":
        fal.mode.result = "error"
    else:
        fal.mode.result = "hang"
    async with generating_bot(harness, fal) as bot:
        assert bot.services.generator is not None and bot.services.generator.fal is not None
        bot.services.generator.fal.timeout = 0.5
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        ix = await generate(emulator, lora["id"], "a cat")
        await ix.response()
        (failure_message,) = await ix.followups(count=1, timeout=10)
        assert failure_message["flags"] & EPHEMERAL
        assert "isn't answering" in failure_message["content"]
        assert await quota_rows(bot) == [{"status": "released", "image_count": 0}]
        assert await bot.db.fetchall("SELECT id FROM generated_images") == []
        assert (await bot.services.quota.status(WALLET_A)).remaining == 8
        # The public "Generating…" message is gone; nothing half-posted.
        assert emulator.threads == []
        # fal recovers: Retry runs the same request.
        fal.mode.submit_status, fal.mode.result = 200, "ok"
        retry = await emulator.click(
            failure_message, buttons(failure_message)["Retry"], user_id=ALICE
        )
        await retry.response()
        posted = await wait_thread_message(emulator)
        assert len(posted["attachments"]) == 4
        assert (await bot.services.quota.status(WALLET_A)).remaining == 7


async def test_without_thread_permission_images_are_posted_in_place(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    emulator.deny(CHANNEL, "create_public_threads")
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        ix = await generate(emulator, lora["id"], "a cat")
        await ix.response()
        (posted,) = await ix.followups(count=1, timeout=10)
    assert len(posted["attachments"]) == 4
    assert emulator.threads == []


async def test_hostile_prompt_is_stored_raw_and_shown_harmless(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    prompt = ("**bold** @everyone <@43> `code` ~~x~~ \u202eevil\u202c " * 20)[:480] + " مرحبا"
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot, trigger_word="@here **style**")
        ix = await generate(emulator, lora["id"], prompt)
        await ix.response()
        posted = await wait_thread_message(emulator)
        thread = emulator.threads[0]
        stored = await bot.db.fetchall("SELECT DISTINCT prompt FROM generated_images")
    assert len(thread["name"]) <= 100
    assert "@everyone" not in thread["name"] and "@here" not in thread["name"]
    description = posted["embeds"][0]["description"]
    assert "@everyone" not in description and "<@43>" not in description
    assert "\u202e" not in description
    assert all(p["allowed_mentions"] == {"parse": []} for p in emulator.sent_payloads(posted))
    assert "\u202e" not in stored[0]["prompt"]  # invisible controls dropped
    assert stored[0]["prompt"].startswith("**bold** @everyone <@43>")  # the user's own words


async def test_twenty_concurrent_requests_for_the_last_slot(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    users = list(range(100, 120))
    for user in users:
        emulator.add_user(user)
    async with generating_bot(harness, fal) as bot:
        lora = await seeded(bot)
        for user in users:  # twenty Discord users, one shared wallet
            await link_wallet(bot.db, user, WALLET_A)
        for _ in range(7):
            await bot.services.quota.complete(
                await bot.services.quota.reserve(
                    WALLET_A, user_id=100, lora_id=lora["id"], prompt="p"
                ),
                [],
            )
        interactions = await asyncio.gather(
            *(generate(emulator, lora["id"], "race", u) for u in users)
        )
        for ix in interactions:
            await ix.response()
        refusals = await refusals_of(emulator, list(interactions))
        status = await bot.services.quota.status(WALLET_A)
    assert len(fal.submissions) == 1
    assert len(refusals) == 19
    assert all(r["flags"] & EPHEMERAL and "used all 8" in r["content"] for r in refusals)
    assert status.used == 8


async def test_two_bot_processes_on_one_database_stay_exact(tmp_path: Any, fal: FakeFal) -> None:
    """Shards 0 and 1 run as two bots (each with its own database worker process) on one
    database file; ten users of one wallet race on each for the wallet's last slot."""
    other_guild = 1 << 22  # lands on shard 1
    emulator = DiscordEmulator(
        shard_count=2,
        guilds=[GuildSetup(), GuildSetup(id=other_guild, name="Second", channels={9: "general"})],
    )
    await emulator.start()
    users = list(range(200, 220))
    for user in users:
        emulator.add_user(user)
        emulator.add_user(user, guild_id=other_guild)
    harness = BotHarness(emulator, tmp_path)
    try:
        async with (
            generating_bot(harness, fal, shard_count=2, shard_ids="0") as first,
            generating_bot(harness, fal, shard_count=2, shard_ids="1") as second,
        ):
            assert first.db.worker_pid != second.db.worker_pid
            lora = await seeded(first)
            for user in users:
                await link_wallet(first.db, user, WALLET_A)
            for _ in range(7):
                await first.services.quota.complete(
                    await first.services.quota.reserve(
                        WALLET_A, user_id=200, lora_id=lora["id"], prompt="p"
                    ),
                    [],
                )
            interactions = await asyncio.gather(
                *(
                    emulator.run_command(
                        "generate",
                        user_id=u,
                        channel_id=CHANNEL if i % 2 else 9,
                        options={"lora": lora["id"], "prompt": "race"},
                    )
                    for i, u in enumerate(users)
                )
            )
            for ix in interactions:
                await ix.response()
            refusals = await refusals_of(emulator, list(interactions))
            used = (await second.services.quota.status(WALLET_A)).used
    finally:
        await emulator.stop()
    emulator.assert_clean()
    assert len(fal.submissions) == 1
    assert len(refusals) == 19
    assert all("used all 8" in r["content"] for r in refusals)
    assert used == 8


async def test_gateway_drop_mid_generation_loses_nothing(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    fal.mode.queue_positions = [3, 2, 1, 0] * 10  # fal keeps us waiting a little
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        ix = await generate(emulator, lora["id"], "a cat")
        await ix.response()
        await emulator.drop_gateway(shard_id=0)  # mid-command
        await emulator.wait_for_resume(shard_id=0)
        posted = await wait_thread_message(emulator)
        rows = await bot.db.fetchall("SELECT id FROM generated_images")
        batches = await quota_rows(bot)
    assert len(posted["attachments"]) == 4
    assert len(rows) == 4
    assert batches == [{"status": "completed", "image_count": 4}]
    assert emulator.identify_count[0] == 1  # resumed, not re-identified
