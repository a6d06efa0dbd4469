"""fal webhooks end to end: the real bot (PUBLIC_BASE_URL set, polling every 10 minutes)
against the Discord emulator, the fal fakes signing their webhooks with a test ED25519
key and serving its JWKS, and the real embedded database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import LoraBot
from storage import submissions
from storage.timefmt import utc_now
from tests.e2e.conftest import BotHarness
from tests.e2e.test_process import free_port
from tests.e2e.test_train import (
    ALICE,
    CHANNEL,
    buttons,
    card_of,
    is_mention,
    mention,
    preview,
    services,
)
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal_training import FakeFalTraining
from tests.fakes.fal_webhooks import WebhookSigner, post, webhook_body
from tests.support.gallery_rows import WALLET_A, link_wallet

__all__ = ["services"]

QUEUED_FOREVER = [{"status": "IN_QUEUE", "queue_position": 1}] * 100_000


@contextlib.asynccontextmanager
async def webhook_bot(
    harness: BotHarness, services: Any, **extra: Any
) -> AsyncIterator[tuple[LoraBot, str]]:
    arena, storage, fal = services
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with harness.running(
        fal_key="fake-key:not-a-real-secret",
        fal_queue_url=fal.base_url,
        fal_rest_url=storage.base_url + "/",
        fal_cdn_url=storage.base_url,
        fal_webhook_jwks_url=fal.jwks_url,
        arena_api_url=arena.base_url,
        arena_image_hosts="127.0.0.1",
        http_port=port,
        public_base_url=public,
        # 10 minutes (the watcher then polls every 10 minutes): only a webhook can
        # finish a training within the test.
        training_poll_seconds=600,
        training_lease_seconds=1200,
        **extra,
    ) as bot:
        yield bot, public


def mentions(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    return [m for m in emulator.channel_messages(CHANNEL) if is_mention(m)]


def submitted(emulator: DiscordEmulator) -> int:
    """How many submissions told their user they were submitted (the last step)."""
    return sum(
        str(m.get("content")).startswith("Training started")
        for m in emulator.channel_messages(CHANNEL)
    )


async def start_training(emulator: DiscordEmulator, fal: FakeFalTraining) -> str:
    before = set(fal.trainings)
    done_before = submitted(emulator)
    shown = await preview(emulator)
    await (await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)).response()
    await emulator.wait_until(
        lambda: set(fal.trainings) - before != set(), what="the submission", timeout=10
    )
    (rid,) = set(fal.trainings) - before
    # The submission ends with its progress card posted and recorded, then says so.
    await emulator.wait_until(
        lambda: submitted(emulator) > done_before, what="the submission's end", timeout=10
    )
    return rid


async def snapshot(bot: LoraBot) -> tuple[Any, ...]:
    return (
        await bot.db.fetchall("SELECT * FROM lora_trainings ORDER BY id"),
        await bot.db.fetchall(
            "SELECT lora_training_id, request_id, state, credit_id, notified_at, audit_note "
            "FROM training_jobs ORDER BY 1"
        ),
        await bot.db.fetchall(
            "SELECT id, status, step, request_id, credit_id FROM training_orders ORDER BY id"
        ),
        await bot.db.fetchall("SELECT id, status, training_id FROM training_credits ORDER BY id"),
    )


async def test_a_training_ends_by_webhook_long_before_the_next_poll(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    fal.mode.script = QUEUED_FOREVER
    async with webhook_bot(harness, services, admin_wallets=WALLET_A) as (bot, public):
        await link_wallet(bot.db, ALICE, WALLET_A)
        rid = await start_training(emulator, fal)
        order = await bot.db.fetchone("SELECT id FROM training_orders")
        assert order is not None
        # fal was given the order's webhook URL, as fal-client sends it.
        assert fal.trainings[rid].webhook_url == f"{public}/fal/webhook/{order['id']}"
        started = time.monotonic()
        assert await fal.complete(rid) == 200
        told = await mention(emulator)
        assert time.monotonic() - started < 10  # the next poll is 10 minutes away
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        row = await bot.db.fetchone("SELECT status, lora_weights_url FROM lora_trainings")
        assert row is not None and row["status"] == "completed"
        assert row["lora_weights_url"].endswith(f"/{rid}/pytorch_lora_weights.safetensors")
        assert fal.jwks_fetches == 1

        # fal delivers it again (a retry after a lost answer): 200, nothing changes.
        before = await snapshot(bot)
        assert await fal.deliver(rid) == 200
        assert await fal.deliver(rid) == 200
        assert bot.services.webhooks is not None
        await bot.services.webhooks.settle()
        await asyncio.sleep(0.3)
        assert await snapshot(bot) == before
        assert len(mentions(emulator)) == 1
        assert fal.jwks_fetches == 1  # the keys are cached


async def test_an_error_webhook_fails_the_training_and_keeps_the_credit(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    _, _, fal = services
    fal.mode.script = QUEUED_FOREVER
    async with webhook_bot(harness, services) as (bot, _):
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        rid = await start_training(emulator, fal)
        assert await bot.services.credits.available(ALICE) == []
        fal.mode.error = "Not enough distinct images"
        # Twice at once, as fal's retries can overlap: told once, credit back once.
        assert await asyncio.gather(fal.complete(rid), fal.deliver(rid)) == [200, 200]
        told = await mention(emulator)
        assert "Not enough distinct images" in card_of(emulator, told)["embeds"][0]["description"]
        assert bot.services.webhooks is not None
        await bot.services.webhooks.settle()
        row = await bot.db.fetchone("SELECT status FROM lora_trainings")
        assert row == {"status": "failed"}
        assert len(await bot.services.credits.available(ALICE)) == 1
        assert len(mentions(emulator)) == 1


async def test_refused_webhooks_change_nothing(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, _, fal = services
    fal.mode.script = QUEUED_FOREVER
    async with webhook_bot(harness, services, admin_wallets=WALLET_A) as (bot, public):
        await link_wallet(bot.db, ALICE, WALLET_A)
        first = await start_training(emulator, fal)
        second = await start_training(emulator, fal)
        fal.trainings[first].done = True  # fal has finished it: only the webhook is missing
        fal.trainings[second].done = True
        url = fal.trainings[first].webhook_url
        assert url is not None and url != fal.trainings[second].webhook_url
        headers, body = fal.webhook(first)
        before = await snapshot(bot)
        stranger = WebhookSigner()  # a valid ED25519 key, but not in fal's JWKS
        now = int(time.time())

        cases: dict[str, tuple[dict[str, str], bytes, int]] = {
            "unsigned": ({"Content-Type": "application/json"}, body, 401),
            "no signature header": (
                {k: v for k, v in headers.items() if k != "X-Fal-Webhook-Signature"},
                body,
                401,
            ),
            "forged signature": (
                {**headers, "X-Fal-Webhook-Signature": "ab" * 64},
                body,
                401,
            ),
            "not hex": ({**headers, "X-Fal-Webhook-Signature": "zz" * 64}, body, 401),
            "key not in the JWKS": (stranger.headers(first, body), body, 401),
            "stale timestamp": (fal.signer.headers(first, body, timestamp=now - 301), body, 401),
            "from the future": (fal.signer.headers(first, body, timestamp=now + 301), body, 401),
            "body altered": (
                headers,
                body.replace(b'"OK"', b'"ERROR"', 1),
                401,
            ),
            "replayed with another body": (
                headers,
                webhook_body(first, error="injected"),
                401,
            ),
            "another user id than signed": (
                {**headers, "X-Fal-Webhook-User-Id": "someone-else"},
                body,
                401,
            ),
            "another order's request id": (*fal.webhook(second), 403),
            "no such order": (headers, body, 404),
        }
        for name, (sent_headers, sent_body, expected) in cases.items():
            target = url if name != "no such order" else f"{public}/fal/webhook/{'0' * 32}"
            status = await post(target, sent_headers, sent_body)
            assert status == expected, name
        await asyncio.sleep(0.3)
        assert await snapshot(bot) == before
        assert mentions(emulator) == []
        # Each refusal is logged with its reason, never with the body.
        refusals = [r for r in caplog.records if r.getMessage() == "fal webhook refused"]
        assert len(refusals) == len(cases)
        assert {getattr(r, "kind", None) for r in refusals} == {
            "unsigned",
            "wrong_order",
            "unknown_order",
        }
        assert all(getattr(r, "reason", "") for r in refusals)
        logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
        assert "pytorch_lora_weights" not in logged and "injected" not in logged
        # A forged delivery may make the bot look for a rotated key once, never each time.
        assert fal.jwks_fetches <= 2

        # The genuine delivery still works afterwards.
        assert await fal.deliver(first) == 200
        await mention(emulator)
        rows = await bot.db.fetchall("SELECT request_id, status FROM lora_trainings")
        assert {r["request_id"]: r["status"] for r in rows} == {
            first: "completed",
            second: "pending",
        }


async def test_a_lost_submission_is_recovered_from_its_webhook(
    harness: BotHarness, emulator: DiscordEmulator, services: Any
) -> None:
    """The bot crashed after fal accepted the job and before `accept` recorded it;
    SubmissionRecovery rolled the order back to a draft with its credit usable again.
    fal's signed webhook names the order: the LoRA is recorded, paid by that credit."""
    _, _, fal = services
    async with webhook_bot(harness, services) as (bot, public):
        await link_wallet(bot.db, ALICE, WALLET_A)
        credit = await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        await preview(emulator)
        order = await bot.db.fetchone("SELECT id FROM training_orders")
        assert order is not None
        order_id = order["id"]
        # The dead process's steps, then SubmissionRecovery's roll-back.
        now = until = utc_now()
        reserved = await submissions.begin(
            bot.db,
            order_id,
            user_id=ALICE,
            lora_id="lost-lora-id",
            admin_credit=None,
            channel_id=CHANNEL,
            owner="dead-process",
            now=now,
            until=until,
        )
        assert reserved is not None and reserved.id == credit.id
        images = ("https://images.are.na/1.jpg", "https://images.are.na/2.jpg")
        for step in (
            submissions.record_uploaded(
                bot.db,
                order_id,
                owner="dead-process",
                zip_url="https://v3.fal.media/files/zip/x.zip",
                image_urls=images,
                now=now,
                until=until,
            ),
            submissions.record_submitting(
                bot.db, order_id, owner="dead-process", now=now, until=until
            ),
        ):
            assert await step
        assert await submissions.roll_back(bot.db, order_id, owner=None, now=now)
        assert [c.id for c in await bot.services.credits.available(ALICE)] == [credit.id]

        # fal had accepted the job: it ends, and fal calls the order's URL.
        rid = fal.add(webhook_url=f"{public}/fal/webhook/{order_id}")
        assert await fal.complete(rid) == 200
        told = await mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        row = await bot.db.fetchone(
            "SELECT t.status, t.wallet_address, t.trigger_word, t.steps, t.image_urls, "
            "j.credit_id, j.discord_user_id, j.channel_id, j.audit_note "
            "FROM lora_trainings t JOIN training_jobs j ON j.lora_training_id = t.id "
            "WHERE t.request_id = ?",
            (rid,),
        )
        assert row is not None
        assert row["status"] == "completed"
        assert (row["wallet_address"], row["trigger_word"], row["steps"]) == (
            WALLET_A,
            "mystyle",
            1000,
        )
        assert json.loads(row["image_urls"]) == list(images)
        assert (row["discord_user_id"], row["channel_id"]) == (str(ALICE), str(CHANNEL))
        assert row["credit_id"] == credit.id
        assert credit.id in row["audit_note"]
        assert await bot.services.credits.available(ALICE) == []  # the credit paid
        order_now = await bot.db.fetchone(
            "SELECT status, request_id FROM training_orders WHERE id = ?", (order_id,)
        )
        assert order_now == {"status": "submitted", "request_id": rid}

        # Delivered again: one row, told once.
        assert await fal.deliver(rid) == 200
        assert bot.services.webhooks is not None
        await bot.services.webhooks.settle()
        assert len(await bot.db.fetchall("SELECT id FROM lora_trainings")) == 1
        assert len(mentions(emulator)) == 1
