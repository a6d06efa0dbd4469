"""Pictures of the bot's screens, from the real flows: the bot and discord.py against
the Discord emulator, the fakes of fal, Are.na and the chain, then each message as it
finally stands drawn in Discord's dark theme and photographed in headless Chromium at
desktop and phone widths (test-artifacts/screens/).

The screens are being redesigned, so nothing here checks today's wording: whatever the
bot sends (embeds or Components V2) must render, and every word of its texts must be
on the page. `SCREENS_TO_DOCS=1 scripts/test tests/e2e/test_screens.py` also refreshes
the README's pictures in docs/screenshots/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from tests.e2e.conftest import BotHarness
from tests.e2e.test_generate import fal, generating_bot, seeded, wait_thread_message
from tests.e2e.test_train import preview, services, training_bot
from tests.fakes import fal as fake_fal
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.fakes.fal_training import FakeFalTraining
from tests.support.gallery_rows import (
    WALLET_A,
    WALLET_B,
    image_row,
    insert_images,
    insert_loras,
    link_wallet,
    lora_row,
)
from tests.support.screens import Camera, attachments_of
from tests.support.screens.pictures import PictureServer, sample_png
from tests.support.screens.texts import missing_words

__all__ = ["anvil_node", "chain", "fal", "payment_contracts", "rpc", "services"]

pytestmark = pytest.mark.browser

ALICE, BOB = 42, 43
CHANNEL = 7
EPHEMERAL = 64
WIDTHS = {"desktop": 1000, "phone": 390}
STYLES = ["sks style", "moody light", "ink wash", "neon city", "paper cut", "film grain", "clay"]


@pytest.fixture(scope="module")
def camera() -> Iterator[Camera]:
    """One Chromium for the whole module (it runs on its own thread)."""
    shooter = Camera().start()
    try:
        yield shooter
    finally:
        shooter.close()


@pytest.fixture
async def pictures() -> AsyncIterator[PictureServer]:
    server = await PictureServer().start()
    try:
        yield server
    finally:
        await server.stop()


async def quiet(emulator: DiscordEmulator, seconds: float = 0.4, timeout: float = 10) -> None:
    """Until the bot has sent Discord nothing for `seconds`: its edits are over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        seen = len(emulator.requests)
        await asyncio.sleep(seconds)
        if len(emulator.requests) == seen:
            return
    raise AssertionError(f"the bot kept talking to Discord for {timeout} s")


async def shoot(
    camera: Camera,
    emulator: DiscordEmulator,
    message: Mapping[str, Any],
    name: str,
    *,
    to_docs: Sequence[str] = (),
) -> None:
    """Photograph `message` and check what any version of the screen must satisfy."""
    shots = await camera.screenshot(
        message, name, attachments=attachments_of(emulator, message), to_docs=to_docs
    )
    assert set(shots) == {"desktop", "phone"}
    for width, (png, page) in shots.items():
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == WIDTHS[width]  # IHDR width
        assert int.from_bytes(data[20:24], "big") > 80  # taller than an empty page
        assert len(data) > 8_000, f"{png.name} is nearly empty"
        assert missing_words(message, page) == [], f"{png.name} lacks words of the payload"
        assert "Unsupported component" not in page, f"{png.name}: a component type is not drawn"


def button_like(message: Mapping[str, Any], *words: str) -> dict[str, Any]:
    """The first enabled button whose label has one of `words` (any wording the bot uses)."""

    def walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for c in components:
            yield c
            yield from walk(list(c.get("components") or []))
            if isinstance(c.get("accessory"), dict):
                yield c["accessory"]

    found = [
        c
        for c in walk(list(message.get("components") or []))
        if c.get("type") == 2
        and c.get("custom_id")
        and not c.get("disabled")
        and any(w in (c.get("label") or "").lower() for w in words)
    ]
    assert found, f"no button like {words}: {message.get('components')}"
    return found[0]


async def seed_gallery(bot: Any, pictures: PictureServer) -> list[dict[str, Any]]:
    await link_wallet(bot.db, ALICE, WALLET_A)
    rows = [
        lora_row(
            minutes=i * 90,
            trigger_word=word,
            wallet=(WALLET_A, WALLET_B)[i % 2],
            steps=(1000, 1500, 500)[i % 3],
            images=0,
            image_urls=str([pictures.url(10 * i + n) for n in range(6 + i)]).replace("'", '"'),
        )
        for i, word in enumerate(STYLES)
    ]
    await insert_loras(bot.db, rows)
    images = []
    for i, row in enumerate(rows[-3:]):
        for n in range(4):
            image = image_row(row["id"], minutes=i * 90 + 5, prompt=f"a lighthouse at dusk {i}")
            image["image_url"] = pictures.url(100 + 10 * i + n)
            images.append(image)
    await insert_images(bot.db, images)
    return rows


async def test_gallery_and_lora_detail(
    harness: BotHarness, emulator: DiscordEmulator, camera: Camera, pictures: PictureServer
) -> None:
    async with harness.running() as bot:
        rows = await seed_gallery(bot, pictures)
        ix = await emulator.run_command("loras", user_id=ALICE, channel_id=CHANNEL)
        await ix.response()
        first = await ix.original()
        await quiet(emulator)
        gallery = emulator.message(first["id"])
        await shoot(camera, emulator, gallery, "gallery", to_docs=("desktop", "phone"))

        ix = await emulator.run_command(
            "lora", user_id=ALICE, channel_id=CHANNEL, options={"lora": rows[-1]["trigger_word"]}
        )
        await ix.response()
        detail = await ix.original()
        await quiet(emulator)
        await shoot(camera, emulator, emulator.message(detail["id"]), "lora-detail")


async def test_generate_result_in_its_thread(
    harness: BotHarness,
    emulator: DiscordEmulator,
    fal: FakeFal,
    camera: Camera,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fal's images as pictures with something on them (the fake's own are 2x2 pixels).
    monkeypatch.setattr(fake_fal, "tiny_png", lambda seed=0: sample_png(2 * seed + 40))
    async with generating_bot(harness, fal) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        lora = await seeded(bot, trigger_word="moody light")
        ix = await emulator.run_command(
            "generate",
            user_id=ALICE,
            channel_id=CHANNEL,
            options={"lora": lora["id"], "prompt": "a lighthouse at dusk, *film* photo"},
        )
        await ix.response()
        reply = await ix.original()
        posted = await wait_thread_message(emulator)
        await quiet(emulator)
        result = emulator.message(posted["id"])
        assert result["attachments"], "the result carries the images"
        await shoot(camera, emulator, result, "generate-result", to_docs=("desktop",))
        await shoot(camera, emulator, emulator.message(reply["id"]), "generate-reply")


async def test_paid_training_preview(
    harness: BotHarness,
    emulator: DiscordEmulator,
    services: Any,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
    camera: Camera,
) -> None:
    arena = services[0]
    for block in arena.channels["my-moodboard"].blocks:
        arena.image_types[int(block["id"])] = "png"
    # Pictures with something on them (the fake's own PNGs are 2x2 pixels).
    arena.image_bytes = sample_png
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
    wallet = (await chain.accounts())[8]
    async with training_bot(
        harness,
        services,
        base_rpc_url=anvil_node.url,
        treasury_address=Account.create().address,
        chainlink_eth_usd_feed=feed.address,
    ) as bot:
        await link_wallet(bot.db, ALICE, to_checksum_address(wallet))
        shown = await preview(emulator)
        await quiet(emulator)
        assert shown["flags"] & EPHEMERAL
        await shoot(camera, emulator, emulator.message(shown["id"]), "train-preview")


async def test_training_progress_queued_running_finished(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, camera: Camera
) -> None:
    fal: FakeFalTraining = services[2]
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 3}] * 100_000
    arena = services[0]
    for block in arena.channels["my-moodboard"].blocks:
        arena.image_types[int(block["id"])] = "png"
    arena.image_bytes = sample_png  # the card's thumbnail is a training image
    # Every change shows at once (the bot spaces edits out by default).
    async with training_bot(harness, services, training_progress_edit_seconds=0) as bot:
        await link_wallet(bot.db, ALICE, WALLET_A)
        await bot.services.credits.grant(ALICE, WALLET_A, reason="test payment")
        shown = await preview(emulator)
        start = button_like(shown, "start", "train")
        await (await emulator.click(shown, start["custom_id"], user_id=ALICE)).response()
        await emulator.wait_until(lambda: bool(fal.trainings), what="the submission", timeout=10)
        (training,) = fal.trainings.values()

        async def after_polls(count: int) -> dict[str, Any]:
            # The watcher handles one status before it asks for the next: after `count`
            # more polls, the card shows what fal said.
            target = training.polls + count
            await emulator.wait_until(
                lambda: training.polls >= target, what=f"{count} status polls", timeout=15
            )
            await quiet(emulator, 0.2)
            public = emulator.channel_messages(CHANNEL, include_ephemeral=False)
            assert public, "the training has a public progress card"
            return public[0]

        queued = await after_polls(3)
        await shoot(camera, emulator, queued, "training-queued")

        log = " 42%|████▏     | 420/1000 [00:21<00:29, 19.80it/s]"
        fal.mode.script = [{"status": "IN_PROGRESS", "logs": [{"message": log}]}] * 100_000
        running = await after_polls(3)
        assert running != queued, "the card follows the training"
        await shoot(camera, emulator, running, "training-running", to_docs=("desktop",))

        fal.mode.script = []  # the next status poll says COMPLETED
        await emulator.wait_until(
            lambda: any(
                f"<@{ALICE}>" in (m.get("content") or "")
                for m in emulator.channel_messages(CHANNEL)
            ),
            what="the completion mention",
            timeout=15,
        )
        await quiet(emulator)
        card = emulator.message(queued["id"])
        assert card != running
        await shoot(camera, emulator, card, "training-finished")
