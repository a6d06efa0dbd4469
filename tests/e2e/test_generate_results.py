"""What a /generate result offers, end to end (the real bot, the Discord emulator, the
fake fal, the real database): Same seed in its thread, Delete by the requester only,
and the Link wallet fix on the wallet refusal. (Generate again in its thread:
test_generate.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.app import LoraBot
from tests.e2e.conftest import BotHarness
from tests.e2e.test_generate import (
    ALICE,
    BOB,
    buttons,
    fal,
    generate,
    generating_bot,
    seeded,
    wait_thread_message,
    with_full_size_links,
)
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.support.acks import private_answer
from tests.support.gallery_rows import WALLET_A, WALLET_B, link_wallet

__all__ = ["fal"]  # the fixture, shared with test_generate


async def rows_eventually(bot: LoraBot, sql: str, count: int) -> list[dict[str, Any]]:
    """The rows once there are `count` of them (the bot records a post just after it)."""
    for _ in range(200):
        rows = await bot.db.fetchall(sql)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.025)
    raise AssertionError(f"expected {count} rows from {sql!r}, got {rows}")


def results_in(emulator: DiscordEmulator, channel_id: int) -> list[dict[str, Any]]:
    return [m for m in emulator.channel_messages(channel_id) if m.get("attachments")]


async def test_same_seed_redraws_the_batch_with_fals_seed_in_the_same_thread(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    fal.mode.seed = 9007199254740993  # past 2^53: must travel exactly
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await link_wallet(bot.db, BOB, WALLET_B)
        lora = await seeded(bot)
        await (await generate(emulator, lora["id"], "a red fox")).response()
        posted = await with_full_size_links(emulator, await wait_thread_message(emulator))
        thread_id = int(posted["channel_id"])
        assert "seed" not in fal.submissions[0].arguments  # fal chose it
        fal.mode.seed = 1  # what fal would pick if the bot sent no seed
        # Bob redraws Alice's batch, on his own wallet, from inside the thread.
        click = await emulator.click(posted, buttons(posted)["Same seed"], user_id=BOB)
        await click.response()
        await emulator.wait_until(
            lambda: len(results_in(emulator, thread_id)) == 2, what="the redraw in the thread"
        )
        again = fal.submissions[1].arguments
        assert again["seed"] == 9007199254740993
        assert again["prompt"] == fal.submissions[0].arguments["prompt"]
        assert len(emulator.threads) == 1  # no new thread
        second = results_in(emulator, thread_id)[1]
        assert second["content"] == f"Asked by <@{BOB}>"
        seeds = await bot.db.fetchall(
            "SELECT DISTINCT wallet_address, seed FROM generated_images ORDER BY wallet_address"
        )
        assert {(r["wallet_address"], r["seed"]) for r in seeds} == {
            (WALLET_A, "9007199254740993"),
            (WALLET_B, "9007199254740993"),
        }
        posts = await rows_eventually(bot, "SELECT channel_id, message_id FROM generation_posts", 2)
        assert {(p["channel_id"], p["message_id"]) for p in posts} == {
            (str(thread_id), posted["id"]),
            (str(thread_id), second["id"]),
        }
    emulator.assert_clean()


async def test_only_the_requester_deletes_and_the_rows_stay(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot)
        await (await generate(emulator, lora["id"], "a cat")).response()
        posted = await with_full_size_links(emulator, await wait_thread_message(emulator))
        delete = buttons(posted)["Delete"]
        refused = await private_answer(await emulator.click(posted, delete, user_id=BOB))
        assert "Only the person who asked" in refused["content"]
        assert emulator.message(int(posted["id"])) is not None
        assert len(await bot.db.fetchall("SELECT batch_id FROM generation_posts")) == 1

        done = await private_answer(await emulator.click(posted, delete, user_id=ALICE))
        assert "Deleted" in done["content"]
        assert results_in(emulator, int(posted["channel_id"])) == []
        assert emulator.requests_to(
            "DELETE", f"/channels/{posted['channel_id']}/messages/{posted['id']}"
        )
        assert await bot.db.fetchall("SELECT batch_id FROM generation_posts") == []
        # The images stay: the web app lists them and the quota counts them.
        assert len(await bot.db.fetchall("SELECT id FROM generated_images")) == 4
        assert (await bot.services.quota.status(WALLET_A)).used == 1
    emulator.assert_clean()


async def test_the_wallet_refusal_carries_link_wallet(
    harness: BotHarness, emulator: DiscordEmulator, fal: FakeFal
) -> None:
    async with generating_bot(harness, fal, siwe_domain="bot.example") as bot:
        lora = await seeded(bot)
        ix = await generate(emulator, lora["id"], "a cat")
        message = await private_answer(ix)  # after the public "thinking…", which went
        assert "/wallet link" in message["content"]
        assert buttons(message) == {"Link wallet": "wallet:start"}
        opened = await private_answer(await emulator.click(message, "wallet:start", user_id=ALICE))
        assert opened["embeds"][0]["title"] == "Link your wallet"
        assert "Sign elsewhere" in buttons(opened)
        challenges = await bot.db.fetchall("SELECT discord_user_id FROM siwe_challenges")
        assert [c["discord_user_id"] for c in challenges] == [str(ALICE)]
    assert fal.submissions == []
    emulator.assert_clean()
