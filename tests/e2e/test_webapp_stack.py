"""The bot and the web app on one database, the web app played by its own stack (Kysely
over @libsql/kysely-libsql, tests/webapp/webapp.mjs) and the bot by the real bot through
the Discord emulator. Each face must see what the other wrote."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import BotHarness
from tests.e2e.test_generate import fal as image_fal
from tests.e2e.test_generate import generate, generating_bot
from tests.e2e.test_train import (
    ALICE,
    buttons,
    card_of,
    is_mention,
    mention,
    preview,
    services,
    training_bot,
)
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.support.acks import answer_of, private_answer
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
from tests.support.v2_messages import titles, walk
from tests.support.webapp import WebApp, WebAppError

__all__ = ["image_fal", "services"]  # fixtures used here


@pytest.fixture
async def webapp(harness: BotHarness) -> AsyncIterator[WebApp]:
    async with WebApp(harness.tmp_path / "bot.db") as app:
        yield app


async def eventually(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_lora_trained_in_discord_is_in_the_web_apps_gallery(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, webapp: WebApp
) -> None:
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        await mention(emulator)
        row = await bot.db.fetchone("SELECT * FROM lora_trainings")
        assert row is not None
        (listed,) = await webapp.call("lora.list")
        assert listed == await webapp.call("lora.getById", id=row["id"])
        assert listed["id"] == row["id"] and listed["requestId"] == row["request_id"]
        assert listed["walletAddress"] == WALLET_A and listed["triggerWord"] == "mystyle"
        assert listed["steps"] == 1000 and listed["status"] == "completed"
        assert listed["loraWeightsUrl"].endswith(".safetensors")
        assert len(listed["imageUrls"]) == 6 and all(
            u.startswith("http") for u in listed["imageUrls"]
        )
        # The web app's own timestamp format (toISOString: milliseconds and Z).
        assert listed["createdAt"].endswith("Z") and len(listed["createdAt"]) == 24


async def test_a_web_app_training_is_finished_by_the_bots_watcher(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, webapp: WebApp
) -> None:
    _, _, fal = services
    fal.mode.script = []
    async with training_bot(harness, services) as bot:
        created = await webapp.call(
            "lora.create",
            requestId=fal.add(),
            walletAddress=WALLET_A,
            triggerWord="webstyle",
            steps=800,
            imageUrls=["https://images.are.na/a.jpg"],
        )
        assert created["id"] == created["id"].upper() and len(created["id"]) == 32
        listed = await eventually(lambda: webapp.call("lora.list"), "the web app's gallery")
        assert [(x["id"], x["status"]) for x in listed] == [(created["id"], "completed")]
        assert listed[0]["loraWeightsUrl"].endswith(".safetensors")
        # Nobody in Discord started it: nobody is mentioned.
        assert not [
            m for m in emulator.channel_messages(7) if m.get("content", "").startswith("<@")
        ]
        assert await bot.db.fetchall("SELECT * FROM training_jobs") == []


async def test_the_web_app_completing_a_watched_row_is_not_done_twice(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, webapp: WebApp
) -> None:
    """The web app's client calls lora.complete before the bot's watcher sees fal finish:
    the bot does not overwrite the row, and still tells its Discord user once."""
    _, _, fal = services
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 10_000
    async with training_bot(harness, services, admin_wallets=WALLET_A) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        shown = await preview(emulator)
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        row = await eventually(
            lambda: bot.db.fetchone("SELECT id, request_id FROM lora_trainings"), "the pending row"
        )
        done = await webapp.call(
            "lora.complete",
            requestId=row["request_id"],
            loraWeightsUrl="https://v3.fal.media/files/web/completed-by-the-web-app.safetensors",
            walletAddress=WALLET_A,
        )
        assert done == {"updated": 1}
        fal.mode.script = []  # fal finishes too; the watcher must not write over the web app
        told = await mention(emulator)
        await asyncio.sleep(0.5)
        assert len([m for m in emulator.channel_messages(7) if is_mention(m)]) == 1
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        (listed,) = await webapp.call("lora.list")
        assert listed["loraWeightsUrl"].endswith("completed-by-the-web-app.safetensors")


async def test_the_web_app_counts_the_bots_batches(
    harness: BotHarness, emulator: DiscordEmulator, image_fal: FakeFal, webapp: WebApp
) -> None:
    async with generating_bot(harness, image_fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = lora_row()
        await insert_loras(bot.db, [lora])
        for prompt in ("one", "two"):
            ix = await generate(emulator, lora["id"], prompt)
            await ix.response()
            await eventually(
                lambda p=prompt: bot.db.fetchone(
                    "SELECT 1 AS done FROM generation_batches WHERE prompt = ? "
                    "AND status = 'completed'",
                    (p,),
                ),
                "the batch",
            )
        remaining = await webapp.call("generate.remaining", walletAddress=WALLET_A)
        assert remaining == {"remaining": 6, "limit": 8, "isExempt": False}
        images = await webapp.call("generate.listByLora", loraTrainingId=lora["id"])
        assert len(images) == 8 and {i["prompt"] for i in images} == {"one", "two"}
        assert all(isinstance(i["seed"], str) or i["seed"] is None for i in images)


async def web_app_loras(webapp: WebApp, fal_ids: list[str], count: int) -> list[str]:
    """LoRAs trained on the web app: its pending rows, then its client's lora.complete."""
    ids = []
    for n in range(count):
        created = await webapp.call(
            "lora.create",
            requestId=f"web-{n}-{fal_ids[0] if fal_ids else 'x'}",
            walletAddress=WALLET_A,
            triggerWord=f"web{n}",
            steps=500 + n,
            imageUrls=[f"https://images.are.na/{n}-{i}.jpg" for i in range(3)],
        )
        await webapp.call(
            "lora.complete",
            requestId=f"web-{n}-{fal_ids[0] if fal_ids else 'x'}",
            loraWeightsUrl=f"https://v3.fal.media/files/web/{n}.safetensors",
            walletAddress=WALLET_A,
        )
        ids.append(created["id"])
        await asyncio.sleep(0.002)  # distinct created_at milliseconds, as real use has
    return ids


def components(message: dict[str, Any]) -> dict[str, str]:
    """label -> custom_id (or url) of every button, nested ones (Components V2) included."""
    found = {}
    for c in walk(message.get("components")):
        if c.get("type") == 2 and "label" in c:
            found[c["label"]] = c.get("custom_id") or c.get("url", "")
    return found


async def _thread_result(emulator: DiscordEmulator, ix: Any) -> dict[str, Any] | None:
    thread = emulator.channel_messages(ix.original_message_id) if ix.original_message_id else []
    return next((m for m in thread if m.get("attachments")), None)


async def test_quota_used_on_one_face_is_seen_by_the_other(
    harness: BotHarness, emulator: DiscordEmulator, image_fal: FakeFal, webapp: WebApp
) -> None:
    async with generating_bot(harness, image_fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        (lora_id,) = await web_app_loras(webapp, [], 1)
        image = {"url": "https://v3.fal.media/files/web/x.jpeg", "width": 1024, "height": 1024}
        for n in range(7):  # seven batches on the web app
            await webapp.call(
                "generate.images",
                loraTrainingId=lora_id,
                prompt=f"web {n}",
                walletAddress=WALLET_A,
                images=[{**image, "seed": n}] * 4,
            )
        status = await private_answer(
            await emulator.run_command("wallet status", user_id=ALICE, channel_id=7)
        )
        fields = {f["name"]: f["value"] for f in status["embeds"][0]["fields"]}
        assert fields["Generations"] == "1 of 8 left today"
        # The race for the last slot: the web app's insert and three bot requests at once.
        # The bot's reservation is one conditional write that counts the web app's rows,
        # so whoever comes second is refused on the bot's side, and the bot takes the
        # slot at most once.
        tries = [generate(emulator, lora_id, f"bot {n}") for n in range(3)]
        web = webapp.call(
            "generate.images",
            loraTrainingId=lora_id,
            prompt="web last",
            walletAddress=WALLET_A,
            images=[{**image, "seed": 99}] * 4,
        )
        await asyncio.gather(*tries, web, return_exceptions=True)
        await asyncio.sleep(1.0)  # the bot's winner (if any) finishes its batch
        batches = await bot.db.fetchall(
            "SELECT status FROM generation_batches WHERE status IN ('reserved', 'completed')"
        )
        assert len(batches) <= 1
        remaining = await webapp.call("generate.remaining", walletAddress=WALLET_A)
        assert remaining["remaining"] == 0
        # Once the quota is full on either face, the other refuses.
        refused = await generate(emulator, lora_id, "one more")
        assert "used all 8" in (await private_answer(refused))["content"]
        with pytest.raises(WebAppError, match="FORBIDDEN"):
            await webapp.call(
                "generate.images",
                loraTrainingId=lora_id,
                prompt="web more",
                walletAddress=WALLET_A,
                images=[image] * 4,
            )


async def test_web_app_loras_are_browsed_opened_and_generated_from_in_discord(
    harness: BotHarness, emulator: DiscordEmulator, image_fal: FakeFal, webapp: WebApp
) -> None:
    async with generating_bot(harness, image_fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        ids = await web_app_loras(webapp, [], 12)  # three gallery pages of five
        assert all(i == i.upper() and len(i) == 32 for i in ids)  # hex(randomblob(16))
        gallery = await (
            await emulator.run_command("loras", user_id=ALICE, channel_id=7)
        ).original()
        first_page = components(gallery)
        assert {"« First", "‹ Previous", "Next ›", "Last »"} <= set(first_page)
        nxt = await emulator.click(gallery, first_page["Next ›"], user_id=ALICE)
        second = await answer_of(nxt)  # deferred as an update, then the page moves
        assert second["id"] == gallery["id"]
        assert titles(second) == ["web6", "web5", "web4", "web3", "web2"]
        back = await emulator.click(second, components(second)["‹ Previous"], user_id=ALICE)
        again = await answer_of(back)
        assert titles(again) == ["web11", "web10", "web9", "web8", "web7"]
        # /lora on a web-app LoRA: Generate is there, and it generates.
        detail = await (
            await emulator.run_command(
                "lora", user_id=ALICE, channel_id=7, options={"lora": ids[0]}
            )
        ).original()
        assert "Generate" in components(detail)
        ix = await generate(emulator, ids[0], "a lighthouse")
        await ix.response()
        result = await eventually(lambda: _thread_result(emulator, ix), "the images in the thread")
        assert {"Generate again", "Open LoRA"} <= set(components(result))
        images = await webapp.call("generate.listByLora", loraTrainingId=ids[0])
        assert len(images) == 4


async def _thread_result(emulator: DiscordEmulator, ix: Any) -> dict[str, Any] | None:
    thread = emulator.channel_messages(ix.original_message_id) if ix.original_message_id else []
    return next((m for m in thread if m.get("attachments")), None)
