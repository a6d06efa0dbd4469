"""/train end to end: the real bot and discord.py against the emulator, a fake Are.na,
fal storage and fal's training queue over HTTP, the real embedded database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import fal_client.client as fal_internals
import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from bot.app import LoraBot
from storage.timefmt import parse_time
from tests.e2e.conftest import BotHarness
from tests.fakes.arena import FakeArena
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator, GuildSetup
from tests.fakes.fal_storage import FakeFalStorage
from tests.fakes.fal_training import FakeFalTraining
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


async def mention(emulator: DiscordEmulator) -> dict[str, Any]:
    await emulator.wait_until(
        lambda: any(m.get("content") == f"<@{ALICE}>" for m in emulator.channel_messages(CHANNEL)),
        what="the finished-training mention",
        timeout=15,
    )
    return next(m for m in emulator.channel_messages(CHANNEL) if m.get("content") == f"<@{ALICE}>")


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
        assert "Not enough distinct images" in told["embeds"][0]["description"]
        assert "credit" in told["embeds"][0]["description"]
        assert buttons(told) == {}
        assert len(await bot.services.credits.available(ALICE)) == 1  # money is never lost
        listing = await (
            await emulator.run_command("trainings", user_id=ALICE, channel_id=CHANNEL)
        ).response()
        assert "failed: Not enough distinct images" in listing["data"]["embeds"][0]["description"]


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
    assert told["embeds"][0]["title"] == "Trained mystyle"


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
        assert told["embeds"][0]["title"] == "Trained mystyle"
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
        told = await mention(emulator)
        assert all(
            p["allowed_mentions"].get("users") in (None, []) for p in emulator.sent_payloads(told)
        )


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
    assert told["embeds"][0]["title"] == "Trained mystyle"
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
            mentions = [
                m for m in emulator.channel_messages(CHANNEL) if m.get("content") == f"<@{ALICE}>"
            ]
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
        assert told["embeds"][0]["title"] == "Trained mystyle"
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
