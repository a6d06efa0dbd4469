"""/train end to end: the real bot and discord.py against the emulator, a fake Are.na,
fal storage and fal's training queue over HTTP, the real embedded database."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import discord
import fal_client.client as fal_internals
import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from bot.app import LoraBot
from bot.services.admin_audit import Auditor
from bot.services.training.desk import STEPS_MAX, STEPS_MIN
from storage.timefmt import parse_time
from tests.e2e.conftest import BotHarness
from tests.fakes.arena import FakeArena
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator, GuildSetup
from tests.fakes.fal_storage import FakeFalStorage
from tests.fakes.fal_training import FakeFalTraining, step_logs
from tests.support.acks import private_answer
from tests.support.gallery_rows import WALLET_A, link_wallet

__all__ = ["anvil_node", "chain", "payment_contracts", "rpc"]  # fixtures used here

EPHEMERAL = 64
ALICE = 42
CHANNEL = 7


@pytest.fixture
async def services(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[FakeArena, FakeFalStorage, FakeFalTraining]]:
    # fal-client's hosts are module constants: restore them after the test.
    for name in ("QUEUE_URL_FORMAT", "REST_URL", "CDN_URL"):
        monkeypatch.setattr(fal_internals, name, getattr(fal_internals, name))
    arena, storage, fal = FakeArena(), FakeFalStorage(), FakeFalTraining()
    await arena.start()
    await storage.start()
    await fal.start()
    arena.add_channel(
        "my-moodboard", title="My *mood* board @everyone", images=6, others={"Text": 2}
    )
    try:
        yield arena, storage, fal
    finally:
        await fal.stop()
        await storage.stop()
        await arena.stop()


@contextlib.asynccontextmanager
async def training_bot(
    harness: BotHarness, services: tuple[FakeArena, FakeFalStorage, FakeFalTraining], **extra: Any
) -> AsyncIterator[LoraBot]:
    arena, storage, fal = services
    async with harness.running(
        fal_key="fake-key:not-a-real-secret",
        fal_queue_url=fal.base_url,
        fal_rest_url=storage.base_url + "/",
        fal_cdn_url=storage.base_url,
        arena_api_url=arena.base_url,
        arena_image_hosts="127.0.0.1",
        training_poll_seconds=0.05,
        **extra,
    ) as bot:
        yield bot


def progress_now(emulator: DiscordEmulator, message_id: str) -> dict[str, Any]:
    return next(m for m in emulator.channel_messages(CHANNEL) if m["id"] == message_id)


PRIMARY, GREY, LINK = 1, 2, 5


def styles(message: dict[str, Any]) -> dict[str, int]:
    """Each button's label and style (1 primary, 2 grey, 5 a link)."""
    return {
        c["label"]: c["style"] for row in message.get("components", []) for c in row["components"]
    }


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        c["label"]: c.get("custom_id", "")
        for row in message.get("components", [])
        for c in row["components"]
    }


async def preview(emulator: DiscordEmulator, **options: Any) -> dict[str, Any]:
    ix = await emulator.run_command(
        "train",
        user_id=ALICE,
        channel_id=CHANNEL,
        options={
            "channel": "https://www.are.na/ada-lovelace/my-moodboard",
            "trigger_word": "mystyle",
            **options,
        },
    )
    await ix.response()
    (shown,) = await ix.followups(count=1, timeout=10)
    return shown


def is_mention(message: dict[str, Any]) -> bool:
    """The short reply that tells ALICE her training ended (it starts with her mention)."""
    return str(message.get("content") or "").startswith(f"<@{ALICE}>")


async def mention(emulator: DiscordEmulator) -> dict[str, Any]:
    await emulator.wait_until(
        lambda: any(is_mention(m) for m in emulator.channel_messages(CHANNEL)),
        what="the finished-training mention",
        timeout=15,
    )
    return next(m for m in emulator.channel_messages(CHANNEL) if is_mention(m))


def public(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    """What everyone in the channel sees (no one's private answers)."""
    return [m for m in emulator.channel_messages(CHANNEL) if not m.get("flags", 0) & EPHEMERAL]


def card_of(emulator: DiscordEmulator, told: dict[str, Any]) -> dict[str, Any]:
    """The progress card the mention replies to (the mention itself carries no card)."""
    assert not told.get("embeds"), "the mention is a short reply, not a second card"
    card_id = told["message_reference"]["message_id"]
    channel = int(told["channel_id"])
    return next(m for m in emulator.channel_messages(channel) if m["id"] == card_id)


async def test_admin_trains_and_is_told_when_it_is_done(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, storage, fal = services
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        assert shown["flags"] & EPHEMERAL
        card = shown["embeds"][0]
        assert "Free (admin wallet)" in card["description"]
        assert "6 images" in card["description"]
        assert "@everyone" not in card["title"]  # the Are.na title is user text
        start = await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        await start.response()
        told = await mention(emulator)
        assert set(buttons(told)) == {"Open in gallery", "Generate images"}
        assert all(
            p["allowed_mentions"]["users"] == [str(ALICE)]
            or p["allowed_mentions"]["users"] == [ALICE]
            for p in emulator.sent_payloads(told)
        )
        row = await bot.db.fetchone("SELECT * FROM lora_trainings WHERE trigger_word = 'mystyle'")
        assert row is not None
        assert row["status"] == "completed"
        assert row["lora_weights_url"].endswith("pytorch_lora_weights.safetensors")
        assert row["wallet_address"] == WALLET_A and row["steps"] == 1000
        (submitted,) = fal.trainings.values()
        assert submitted.arguments["trigger_word"] == "mystyle"
        assert submitted.arguments["images_data_url"].startswith(storage.base_url)
        # The progress message was edited along the way, then shows the result.
        progress = next(
            m
            for m in emulator.channel_messages(CHANNEL)
            if m.get("embeds")
            and m["embeds"][0].get("title", "").startswith(("Training", "Trained"))
        )
        assert progress["embeds"][0]["title"] == "Trained mystyle"
        gallery = await (
            await emulator.run_command("loras", user_id=ALICE, channel_id=CHANNEL)
        ).original()
        assert "mystyle" in str(gallery)


async def test_a_failed_training_keeps_the_credit(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    fal.mode.error = "Not enough distinct images"
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator, steps=500)
        assert "Uses your training credit" in shown["embeds"][0]["description"]
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        told = await mention(emulator)
        assert "Not enough distinct images" in card_of(emulator, told)["embeds"][0]["description"]
        assert "credit" in card_of(emulator, told)["embeds"][0]["description"]
        assert buttons(told) == {}
        assert len(await bot.services.credits.available(ALICE)) == 1  # money is never lost
        listing = await private_answer(
            await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
        )
        assert "failed: Not enough distinct images" in listing["embeds"][0]["description"]


async def test_training_survives_a_restart(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    # Long enough that the first bot stops while the training is still running.
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 0}] * 1000
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(lambda: bool(fal.trainings), what="the submission", timeout=10)
    fal.mode.script = []  # fal finishes while the bot is down
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        told = await mention(emulator)
        row = await bot.db.fetchone("SELECT status FROM lora_trainings")
    assert row == {"status": "completed"}
    assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"trigger_word": "a"}, "trigger word must be"),
        ({"trigger_word": "@everyone hi"}, "trigger word must be"),
        ({"steps": 5}, "Steps must be between"),
        ({"channel": "https://evil.example/x/y"}, "are.na"),
        ({"channel": "https://www.are.na/ada-lovelace/missing"}, "has no channel"),
    ],
)
async def test_bad_input_is_refused_privately(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    options: dict[str, Any],
    expected: str,
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        ix = await emulator.run_command(
            "train",
            user_id=ALICE,
            channel_id=CHANNEL,
            options={"channel": "my-moodboard", "trigger_word": "mystyle", **options},
        )
        await ix.response()
        (answer,) = await ix.followups(count=1, timeout=10)
    assert answer["flags"] & EPHEMERAL
    assert expected.lower() in answer["content"].lower()


async def test_paying_on_chain_then_training(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
    """The whole paid path on a real Ethereum node (anvil, chain 8453): a quote from a
    Chainlink-style feed, a value transfer from the linked wallet, the hash pasted in
    Discord, confirmations awaited, then the training."""
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
    wallet = (await chain.accounts())[8]
    treasury = Account.create().address
    async with training_bot(
        harness,
        services,
        base_rpc_url=anvil_node.url,
        treasury_address=treasury,
        chainlink_eth_usd_feed=feed.address,
    ) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(wallet))
        shown = await preview(emulator)
        card = shown["embeds"][0]
        quote = await bot.db.fetchone("SELECT wei, expires_at FROM payment_quotes")
        assert quote is not None
        wei = int(quote["wei"])  # $4 at $3000/ETH: 0.0013333… rounded up to 6 decimals
        assert wei == 1_334 * 10**12 >= -(-4 * 10**18 // 3000)
        expires = int(parse_time(quote["expires_at"]).timestamp())
        assert (
            f"**0.001334 ETH** (about $4.00), price held until <t:{expires}:R>"
            in (card["description"])
        )
        assert treasury in str(card["fields"])
        # No payment page here: pasting the hash is the one (primary) action.
        assert styles(shown) == {"I've paid — paste the hash": PRIMARY}

        # One wei short: recorded, and the answer says what is missing and how to send it.
        short = await chain.send_transaction(to=treasury, value=wei - 1, sender=wallet)
        await chain.mine(2)
        ask = await emulator.click(
            shown, buttons(shown)["I've paid — paste the hash"], user_id=ALICE
        )
        modal = await ask.modal()
        partly = await emulator.submit_modal(
            modal["custom_id"], {"tx_hash": short.transaction_hash}, user_id=ALICE
        )
        await partly.response()
        (why,) = await partly.followups(count=1, timeout=10)
        assert why["flags"] & EPHEMERAL
        assert "Still missing: **0.000001 ETH**" in why["content"]
        assert treasury in why["content"] and f"<t:{expires}:R>" in why["content"]
        assert await bot.services.credits.available(ALICE) == []
        # The preview follows: it says what is missing; paying the rest is the action.
        edited = emulator.message(shown["id"])
        assert "Still missing: **0.000001 ETH**" in edited["content"]
        assert styles(edited) == {"I've paid — paste the hash": PRIMARY}
        assert styles(why) == {"I've paid — paste the hash": PRIMARY}

        # The rest, in a second transaction from the same wallet: both count.
        rest = await chain.send_transaction(to=treasury, value=10**12, sender=wallet)
        ask = await emulator.click(
            edited, buttons(edited)["I've paid — paste the hash"], user_id=ALICE
        )
        modal = await ask.modal()
        pending = await emulator.submit_modal(
            modal["custom_id"],
            {"tx_hash": rest.transaction_hash.upper().replace("0X", "0x")},
            user_id=ALICE,
        )
        await pending.response()
        (waiting,) = await pending.followups(count=1, timeout=10)
        assert "confirmations" in waiting["content"]
        # Now a payment is under way: Check payment is the action.
        assert styles(waiting) == {"Check payment": PRIMARY, "I've paid — paste the hash": GREY}
        assert styles(emulator.message(shown["id"])) == styles(waiting)
        await chain.mine(2)
        check = await emulator.click(waiting, buttons(waiting)["Check payment"], user_id=ALICE)
        await check.response()
        (started,) = await check.followups(count=1, timeout=15)
        # Both transactions together (one wei short, then the smallest readable step).
        assert "Payment verified: 0.001334999999999999 ETH received" in started["content"]
        assert "Training started: 6 images" in started["content"]
        told = await mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        assert "Training started" in emulator.message(shown["id"])["content"]
        assert (
            await bot.services.credits.available(ALICE) == []
        )  # the credit paid for this training
        payments = await bot.db.fetchall("SELECT tx_hash, credit_id FROM payments")
        assert {p["tx_hash"] for p in payments} == {
            short.transaction_hash.lower(),
            rest.transaction_hash.lower(),
        }
        assert len({p["credit_id"] for p in payments}) == 1  # one credit for both
        assert await bot.db.fetchone("SELECT COUNT(*) AS n FROM training_credits") == {"n": 1}

        # Neither hash can pay again.
        again = await preview(emulator)
        for used in (short, rest):
            ask = await emulator.click(
                again, buttons(again)["I've paid — paste the hash"], user_id=ALICE
            )
            modal = await ask.modal()
            reused = await emulator.submit_modal(
                modal["custom_id"], {"tx_hash": used.transaction_hash}, user_id=ALICE
            )
            await reused.response()
            (no,) = await reused.followups(count=1, timeout=10)
            assert "already" in no["content"].lower()


async def test_cancel_while_queued_gives_the_credit_back(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 3}] * 1000
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(
            lambda: any(
                "Cancel training" in str(m.get("components"))
                for m in emulator.channel_messages(CHANNEL)
            ),
            what="the progress message",
            timeout=10,
        )
        progress = next(
            m
            for m in emulator.channel_messages(CHANNEL)
            if "Cancel training" in str(m.get("components"))
        )
        stranger = await emulator.click(progress, buttons(progress)["Cancel training"], user_id=43)
        await stranger.response()
        (refusal,) = await stranger.followups(count=1, timeout=10)
        assert "isn't yours" in refusal["content"]
        owner = await emulator.click(progress, buttons(progress)["Cancel training"], user_id=ALICE)
        await owner.response()
        (done,) = await owner.followups(count=1, timeout=10)
        # The credit comes back only once fal confirms the cancellation (the watcher's
        # next poll), in the transaction that marks the training failed.
        assert "comes back as soon as fal.ai confirms" in done["content"]
        assert next(iter(fal.trainings.values())).cancelled
        await emulator.wait_until(
            lambda: "cancelled" in str(progress_now(emulator, progress["id"])["embeds"]),
            what="the progress card to say cancelled",
            timeout=10,
        )
        row = await bot.db.fetchone("SELECT status FROM lora_trainings")
        assert row == {"status": "failed"}
        assert len(await bot.services.credits.available(ALICE)) == 1
        card = progress_now(emulator, progress["id"])
        assert card["components"] == []  # no Cancel button once it is over
        assert card["embeds"][0]["title"] == "Cancelled: mystyle"
        assert card["embeds"][0]["color"] == discord.Colour.light_grey().value
        await asyncio.sleep(0.3)  # more polls: still nobody is pinged
        # Its owner cancelled it: no mention, no second message; the card says it all.
        assert not any(is_mention(m) for m in emulator.channel_messages(CHANNEL))
        assert [m["id"] for m in public(emulator)] == [progress["id"]]
        for sent in emulator.sent_payloads(card):
            assert sent.get("allowed_mentions", {}).get("users") in (None, [])


async def test_discord_rate_limits_on_progress_edits_are_waited_out(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    # Discord answers 429 to the first three message edits: discord.py waits and retries,
    # and the training is still followed to its announcement.
    emulator.rate_limit("PATCH", "/channels/{channel_id}/messages/{message_id}", times=3)
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        told = await mention(emulator)
    assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
    limited = [r for r in emulator.requests if r.method == "PATCH" and r.status == 429]
    assert len(limited) == 3


async def test_two_bot_processes_announce_a_training_once(tmp_path: Any, services: Any) -> None:
    """Shards 0 and 1 as two bots on one database file: both watchers poll, the lease
    lets exactly one handle the training, and the user is mentioned exactly once."""
    other_guild = 1 << 22  # shard 1
    emulator = DiscordEmulator(
        shard_count=2,
        guilds=[GuildSetup(), GuildSetup(id=other_guild, name="Second", channels={9: "general"})],
    )
    await emulator.start()
    harness = BotHarness(emulator, tmp_path)
    try:
        async with (
            training_bot(
                harness, services, admin_wallets=WALLET_A, shard_count=2, shard_ids="0"
            ) as first,
            training_bot(
                harness, services, admin_wallets=WALLET_A, shard_count=2, shard_ids="1"
            ) as second,
        ):
            assert first.db.worker_pid != second.db.worker_pid
            await link_wallet(first.db, ALICE, WALLET_A)
            shown = await preview(emulator)
            await (
                await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
            ).response()
            await mention(emulator)
            await asyncio.sleep(0.5)  # both watchers get several more polls
            mentions = [m for m in emulator.channel_messages(CHANNEL) if is_mention(m)]
            row = await second.db.fetchone("SELECT status FROM lora_trainings")
    finally:
        await emulator.stop()
    emulator.assert_clean()
    assert len(mentions) == 1
    assert row == {"status": "completed"}


async def test_an_hour_old_progress_message_that_takes_no_more_edits_is_continued(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    """Discord caps edits to messages older than an hour (30046): the training goes on,
    its progress moves to a fresh message that replies to the old one."""
    _, _, fal = services
    steps = [
        {"status": "IN_PROGRESS", "logs": [{"message": f" {p}%|█ | {p * 10}/1000 [00:05<00:45]"}]}
        for p in range(10, 100, 10)
    ]
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 20 + steps
    emulator.world.old_message_edit_limit = 1
    async with training_bot(
        harness, services, admin_wallets=WALLET_A, training_progress_edit_seconds=0
    ) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        start = await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        await start.response()
        await emulator.wait_until(
            lambda: "Training started" in str(emulator.world.messages.get(int(shown["id"]), {})),
            what="the submission to finish",
            timeout=10,
        )
        first = next(
            m
            for m in emulator.channel_messages(CHANNEL)
            if "Cancel training" in str(m.get("components"))
        )
        # The watcher has edited it once (it knows the message), then an hour passes.
        await emulator.wait_until(
            lambda: emulator.world.edit_counts.get(int(first["id"]), 0) >= 1,
            what="a first progress edit",
            timeout=10,
        )
        emulator.advance_time(3700)  # the progress message is now over an hour old
        told = await mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        cards = [
            m
            for m in emulator.channel_messages(CHANNEL)
            if not m.get("content") and m.get("embeds")
        ]
        assert len(cards) == 2  # the old one, and the fresh one that continued it
        fresh = cards[1]
        assert fresh["message_reference"]["message_id"] == first["id"]
        assert fresh["embeds"][0]["title"] == "Trained mystyle"  # the fresh card got the end
        job = await bot.db.fetchone("SELECT progress_message_id FROM training_jobs")
        assert job == {"progress_message_id": fresh["id"]}
        assert len(emulator.violations) == 0


def card_descriptions(emulator: DiscordEmulator, card: dict[str, Any]) -> list[str]:
    """What the card said, state after state (its first post, then each edit)."""
    return [
        p["embeds"][0].get("description", "")
        for p in emulator.sent_payloads(card)
        if p.get("embeds")
    ]


async def test_one_card_from_queued_to_trained_with_the_time_left(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    """The card: who, which channel, how many images, a thumbnail; the queue; a progress
    bar with fal's estimate of the time left; then the same card, edited, says Trained,
    and one short reply pings its owner (only) and links the card."""
    _, _, fal = services
    running = {
        "status": "IN_PROGRESS",
        "logs": step_logs(120, 1000, elapsed=24, left=176),
    }
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 3}] * 60 + [running] * 100_000
    async with training_bot(
        harness, services, admin_wallets=WALLET_A, training_progress_edit_seconds=0
    ) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(
            lambda: any("3 jobs ahead" in str(m.get("embeds")) for m in public(emulator)),
            what="the queue position",
            timeout=15,
        )
        (queued_card,) = public(emulator)
        assert set(buttons(queued_card)) == {"Cancel training"}  # fal can still cancel it
        await emulator.wait_until(
            lambda: any(
                "120/1000" in str(m.get("embeds")) for m in emulator.channel_messages(CHANNEL)
            ),
            what="the progress bar",
            timeout=15,
        )
        (card,) = public(emulator)
        embed = card["embeds"][0]
        assert embed["title"] == "Training mystyle"
        assert f"Started by <@{ALICE}> <t:" in embed["description"]
        assert "(https://www.are.na/channel/my-moodboard)" in embed["description"]
        assert "6 images · 1000 steps" in embed["description"]
        assert "My \\*mood\\* board @\u200beveryone" in embed["description"]  # escaped
        assert embed["thumbnail"]["url"].startswith("http")
        assert "footer" not in embed  # no raw id
        assert "▰▰" in embed["description"] and "120/1000 steps (12%)" in embed["description"]
        # fal's estimate, 176 s from now, as a live Discord timestamp.
        eta = re.search(r"Done <t:(\d+):R>", embed["description"])
        assert eta is not None
        assert abs(int(eta[1]) - (time.time() + 176)) < 30
        assert buttons(card) == {}  # fal has started it: it can no longer be cancelled
        first_post = emulator.sent_payloads(card)[0]
        assert [c["label"] for c in first_post["components"][0]["components"]] == [
            "Cancel training"
        ]  # Cancel while fal still has it queued

        (rid,) = fal.trainings
        await fal.complete(rid)
        told = await mention(emulator)
        await asyncio.sleep(0.3)  # more polls: nothing more is posted
        messages = public(emulator)
    assert [m["id"] for m in messages] == [card["id"], told["id"]]  # the card, its reply
    final = card_of(emulator, told)
    assert final["id"] == card["id"]  # edited in place, not a second card
    assert final["embeds"][0]["title"] == "Trained mystyle"
    assert final["embeds"][0]["color"] == discord.Colour.green().value
    assert set(buttons(final)) == {"Open in gallery", "Generate images"}
    assert told["content"] == f"<@{ALICE}> your LoRA **mystyle** is ready."
    assert set(buttons(told)) == {"Open in gallery", "Generate images"}
    (sent,) = emulator.sent_payloads(told)
    assert sent["allowed_mentions"]["users"] in ([str(ALICE)], [ALICE])
    assert not sent["allowed_mentions"].get("replied_user")
    assert sent["allowed_mentions"].get("parse", []) == []
    for payload in emulator.sent_payloads(card):  # the card itself never pings
        assert payload["allowed_mentions"] == {"parse": []} or not payload["allowed_mentions"].get(
            "users"
        )
    assert len(emulator.violations) == 0


async def test_a_failed_training_is_trained_again_with_the_kept_credit(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    """A failure says what to do and offers Train again: the same channel, trigger word
    and steps, through the same submission, spending the kept credit exactly once."""
    _, _, fal = services
    fal.mode.error = "Not enough distinct images"
    fal.mode.script = []
    async with training_bot(harness, services) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        credit = await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator, steps=500)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        told = await mention(emulator)
        card = card_of(emulator, told)
        assert card["embeds"][0]["title"] == "Training mystyle failed"
        assert "Press **Train again**" in card["embeds"][0]["description"]
        assert set(buttons(card)) == {"Train again"}
        assert "failed" in told["content"] and "credit is kept" in told["content"]
        (sent,) = emulator.sent_payloads(told)  # the failure's one ping: its owner only
        assert sent["allowed_mentions"]["users"] in ([str(ALICE)], [ALICE])
        assert sent["allowed_mentions"].get("parse", []) == []
        assert len(await bot.services.credits.available(ALICE)) == 1

        # A stranger cannot spend Alice's credit.
        stranger = await emulator.click(card, buttons(card)["Train again"], user_id=43)
        await stranger.response()
        (no,) = await stranger.followups(count=1, timeout=10)
        assert no["flags"] & EPHEMERAL and "Only the person who started" in no["content"]

        fal.mode.error = None
        again = await emulator.click(card, buttons(card)["Train again"], user_id=ALICE)
        await again.response()
        await emulator.wait_until(
            lambda: len([m for m in emulator.channel_messages(CHANNEL) if is_mention(m)]) == 2,
            what="the second training's mention",
            timeout=20,
        )
        first, second = (
            fal.trainings[rid].arguments for rid in fal.trainings
        )  # the retry asked fal for the same training
        assert {k: second[k] for k in ("trigger_word", "steps")} == {
            "trigger_word": "mystyle",
            "steps": 500,
        }
        assert {k: first[k] for k in ("trigger_word", "steps")} == {
            k: second[k] for k in ("trigger_word", "steps")
        }
        assert await bot.services.credits.available(ALICE) == []
        spent = await bot.db.fetchall("SELECT id, status FROM training_credits")
        assert spent == [{"id": credit.id, "status": "consumed"}]  # one credit, spent once
        loras = await bot.db.fetchall("SELECT status FROM lora_trainings ORDER BY created_at")
        assert loras == [{"status": "failed"}, {"status": "completed"}]

        # Pressing it again: no third training; the refusal links the running card.
        twice = await emulator.click(card, buttons(card)["Train again"], user_id=ALICE)
        await twice.response()
        refusal = await twice.original()
        assert "already started" in refusal["content"]
        (link,) = [c for row in refusal["components"] for c in row["components"]]
        new_card = await bot.db.fetchone(
            "SELECT channel_id, progress_message_id FROM training_jobs "
            "WHERE lora_training_id = (SELECT id FROM lora_trainings WHERE status = 'completed')"
        )
        assert new_card is not None
        assert link["label"] == "Open progress" and link["url"].endswith(
            f"/{new_card['channel_id']}/{new_card['progress_message_id']}"
        )
        assert len(fal.trainings) == 2
        report = await Auditor(
            bot.db, lease=timedelta(seconds=90), recovery_interval=timedelta(seconds=60)
        ).run()
        assert report.ok, report.offenses


async def test_trainings_lists_each_with_a_link_to_its_card_and_opens_one(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        told = await mention(emulator)
        card = card_of(emulator, told)
        listed = await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
        # Deferred privately first (the list needs the database), then the list itself.
        assert (await listed.response())["data"]["flags"] & EPHEMERAL
        data = await private_answer(listed)
        line = data["embeds"][0]["description"]
        assert line.startswith("**mystyle** — ✅ ready · <t:")
        assert f"/{CHANNEL}/{card['id']})" in line  # a jump link to the card
        (menu,) = [c for row in data["components"] for c in row["components"]]
        assert menu["type"] == 3 and [o["label"] for o in menu["options"]] == ["mystyle"]
        message = await private_answer(
            await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
        )
        opened = await emulator.select(
            message, menu["custom_id"], [menu["options"][0]["value"]], user_id=ALICE
        )
        await opened.response()
        page = await opened.original()
        assert page["flags"] & EPHEMERAL and "mystyle" in str(page)


async def test_steps_is_bounded_by_discord_itself(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    async with training_bot(harness, services):
        command = emulator.registry.find("train", guild_id=None)
    (steps,) = [o for o in command["options"] if o["name"] == "steps"]
    assert (steps["type"], steps["min_value"], steps["max_value"]) == (4, STEPS_MIN, STEPS_MAX)
    assert steps.get("required", False) is False


async def test_the_end_of_a_long_training_reaches_a_card_that_takes_no_more_edits(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    """The card is over an hour old and Discord refuses its edits (30046) just as the
    training ends: the final state goes to a fresh card replying to the old one, the
    mention replies to that fresh card, and jump links lead there."""
    _, _, fal = services
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 100_000
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await emulator.wait_until(
            lambda: any(
                str(m.get("content")).startswith("Training started")
                for m in emulator.channel_messages(CHANNEL)
            ),
            what="the submission to finish",
            timeout=10,
        )
        (old,) = public(emulator)
        # The clock jumps an hour only once the watcher has shown fal's queue position
        # on this card and its id is recorded: a poll that read the row before the id was
        # recorded posts the card again by nonce, which Discord deduplicates only for a
        # few minutes (after the jump it would be a second card).
        await emulator.wait_until(
            lambda: "ahead of it" in str(emulator.message(old["id"])["embeds"][0]),
            what="the watcher's first look at the card",
            timeout=20,
        )
        for _ in range(500):
            row = await bot.db.fetchone("SELECT progress_message_id FROM training_jobs")
            if row and row["progress_message_id"] == old["id"]:
                break
            await asyncio.sleep(0.02)
        assert row and row["progress_message_id"] == old["id"]
        emulator.world.old_message_edit_limit = 0
        emulator.advance_time(3700)
        (rid,) = fal.trainings
        await fal.complete(rid)
        told = await mention(emulator)
        await asyncio.sleep(0.3)
        cards = [m for m in public(emulator) if not is_mention(m)]
        job = await bot.db.fetchone("SELECT progress_message_id FROM training_jobs")
    assert len(cards) == 2 and cards[0]["id"] == old["id"]
    fresh = cards[1]
    assert fresh["message_reference"]["message_id"] == old["id"]
    assert fresh["embeds"][0]["title"] == "Trained mystyle"
    assert card_of(emulator, told)["id"] == fresh["id"]
    assert job == {"progress_message_id": fresh["id"]}
    assert len(emulator.violations) == 0


async def test_train_without_a_wallet_offers_the_link_wallet_button(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    async with training_bot(harness, services, siwe_domain="bot.example"):
        refusal = await preview(emulator)  # ALICE has linked nothing
        assert refusal["flags"] & 64
        assert "Link a wallet first" in refusal["content"]
        buttons = [c for row in refusal["components"] for c in row["components"]]
        assert [(b["label"], b["custom_id"]) for b in buttons] == [("Link wallet", "wallet:start")]
        opened = await emulator.click(refusal, "wallet:start", user_id=ALICE)
        # Deferred privately before the link is made, then the instructions themselves.
        deferral = await opened.response()
        assert deferral["type"] == 5 and deferral["data"]["flags"] & 64
        answer = await private_answer(opened)
        assert answer["embeds"][0]["title"] == "Link your wallet"
