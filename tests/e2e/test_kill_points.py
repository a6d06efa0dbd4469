"""The kill-point suite: the real bot as a subprocess, stopped with SIGKILL and, again,
with SIGTERM at each named step of a paid submission, of the watcher's completion,
failure and notification, and of a generation; then started again.

A step is reached by holding a fake's answer open at a gate (tests/fakes/gates.py): fal's
answer to the submission, Discord's answer to the progress post, and so on. After the
restart every case checks the money invariant on the database (every verified payment
ended as a training or a usable credit, no credit spent twice, no reservation left
behind), that the user was told exactly once (or, where nothing was submitted, that the
next /train uses the credit instead of asking to pay again), and that nothing was
written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import fal_client.client as fal_internals
import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address

from storage.db import Database, DatabaseConfig
from tests.e2e.test_process import wait_healthy
from tests.e2e.test_train import ALICE, CHANNEL, buttons, card_of, is_mention, preview
from tests.fakes.arena import FakeArena
from tests.fakes.chain import DevChain
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import MockFeed, PaymentContracts, payment_contracts
from tests.fakes.discord import DiscordEmulator
from tests.fakes.fal import FakeFal
from tests.fakes.fal_storage import FakeFalStorage
from tests.fakes.fal_training import FakeFalTraining
from tests.fakes.gates import Gate
from tests.support.bot_process import bot_env
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
from tests.support.money_rows import paid_credit

__all__ = ["anvil_node", "chain", "payment_contracts", "rpc"]  # fixtures used here

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}


@dataclass
class World:
    emulator: DiscordEmulator
    arena: FakeArena
    storage: FakeFalStorage
    fal: FakeFalTraining
    images: FakeFal
    db: Database
    env: dict[str, str]
    folder: Path


@dataclass(frozen=True)
class KillPoint:
    """Where the bot dies, and what must be true after it starts again."""

    name: str
    arm: Callable[[World], Gate]
    trained: bool  # after the restart a LoRA exists (fal accepted and the bot recorded it)
    # The watcher's points are armed once the progress message exists.
    armed_after_progress: bool = False
    fails: bool = False  # fal fails the job: the credit comes back


SUBMISSION = [
    KillPoint(
        "credit reserved, images being gathered (Are.na holds a download)",
        lambda w: w.arena.gates.arm("image"),
        trained=False,
    ),
    KillPoint(
        "zip uploading (fal storage holds the upload)",
        lambda w: w.storage.gates.arm("upload"),
        trained=False,
    ),
    KillPoint(
        "fal asked (fal holds the submission)",
        lambda w: w.fal.gates.arm("submit"),
        trained=False,
    ),
    KillPoint(
        "fal accepted, its answer lost",
        lambda w: w.fal.gates.arm("submit:answer"),
        trained=False,
    ),
    KillPoint(
        "recorded, progress post held by Discord",
        lambda w: w.emulator.hold("POST", f"/channels/{CHANNEL}/messages"),
        trained=True,
    ),
    KillPoint(
        "progress posted, Discord's answer lost",
        lambda w: w.emulator.hold("POST", f"/channels/{CHANNEL}/messages", when="after"),
        trained=True,
    ),
]
WATCHER = [
    KillPoint(
        "completing (fal holds the weights URL)",
        lambda w: w.fal.gates.arm("result"),
        trained=True,
        armed_after_progress=True,
    ),
    KillPoint(
        "failing (fal holds the failed status)",
        lambda w: w.fal.gates.arm("status"),
        trained=True,
        armed_after_progress=True,
        fails=True,
    ),
    KillPoint(
        "telling (Discord holds the mention)",
        lambda w: w.emulator.hold("POST", f"/channels/{CHANNEL}/messages"),
        trained=True,
        armed_after_progress=True,
    ),
    KillPoint(
        "told (the mention posted, Discord's answer lost)",
        lambda w: w.emulator.hold("POST", f"/channels/{CHANNEL}/messages", when="after"),
        trained=True,
        armed_after_progress=True,
    ),
]
CASES = [
    pytest.param(point, sig, id=f"{point.name} - {sig}")
    for point in (*SUBMISSION, *WATCHER)
    for sig in SIGNALS
]


@pytest.fixture
async def world(
    emulator: DiscordEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    for name in ("QUEUE_URL_FORMAT", "REST_URL", "CDN_URL"):
        monkeypatch.setattr(fal_internals, name, getattr(fal_internals, name))
    arena, storage, fal, images = FakeArena(), FakeFalStorage(), FakeFalTraining(), FakeFal()
    await arena.start()
    await storage.start()
    await fal.start()
    await images.start()
    arena.add_channel("my-moodboard", title="Mood", images=6)
    database = tmp_path / "bot.db"
    env = bot_env(
        emulator,
        tmp_path,
        database,
        FAL_KEY="fake-key:not-a-real-secret",
        FAL_QUEUE_URL=fal.base_url,
        FAL_REST_URL=storage.base_url + "/",
        FAL_CDN_URL=storage.base_url,
        ARENA_API_URL=arena.base_url,
        ARENA_IMAGE_HOSTS="127.0.0.1",
        MEDIA_HOSTS="127.0.0.1",
        TRAINING_POLL_SECONDS="0.1",
        TRAINING_LEASE_SECONDS="1",
        TRAINING_PROGRESS_EDIT_SECONDS="0",
        GENERATION_RESERVATION_SECONDS="1",
        STOP_GRACE_SECONDS="1",
        LOG_FORMAT="text",
        # Each road to a payment is killed on its own (the scanner's in the page test).
        PAYMENT_SCAN_SECONDS="0",
    )
    db = Database(DatabaseConfig(url=f"file:{database}"))
    try:
        yield World(emulator, arena, storage, fal, images, db, env, tmp_path)
    finally:
        await db.close()
        await images.stop()
        await fal.stop()
        await storage.stop()
        await arena.stop()


@contextlib.asynccontextmanager
async def running_bot(world: World) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=world.folder,
        env={**world.env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_healthy(int(world.env["HTTP_PORT"]), process)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 20)
        if process.returncode is None:
            process.kill()
            await process.wait()


async def admin_audit(world: World) -> int:
    """`lora-bot admin audit` on the live database, while the bot runs, as an operator would."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "admin",
        "audit",
        cwd=world.folder,
        env={**world.env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode != 0:
        print(output.decode(errors="replace"))
    assert process.returncode is not None
    return process.returncode


async def stop(process: asyncio.subprocess.Process, how: str) -> None:
    process.send_signal(SIGNALS[how])
    await asyncio.wait_for(process.wait(), 20)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def money_invariant(db: Database) -> list[str]:
    """What `lora-bot admin audit` checks, read straight from the tables."""
    offenders: list[str] = []
    for row in await db.fetchall(
        "SELECT p.id, c.status, c.training_id, t.status AS training_status FROM payments p "
        # A payment names its credit (`credit_id`, also for a part a top-up completed),
        # or, written before top-ups existed, is named by it.
        "LEFT JOIN training_credits c ON c.id = p.credit_id "
        "OR (p.credit_id IS NULL AND c.payment_id = p.id) "
        "LEFT JOIN lora_trainings t ON t.id = c.training_id"
    ):
        if row["status"] == "available":
            continue
        if row["status"] == "consumed" and row["training_status"] is not None:
            continue
        offenders.append(
            f"payment {row['id']}: credit {row['status']}, training {row['training_status']}"
        )
    for row in await db.fetchall(
        "SELECT training_id, COUNT(*) AS n FROM training_credits WHERE training_id IS NOT NULL "
        "GROUP BY training_id HAVING n > 1"
    ):
        offenders.append(f"training {row['training_id']} paid by {row['n']} credits")
    for row in await db.fetchall(
        "SELECT j.lora_training_id, t.status, c.status AS credit_status, c.training_id "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "LEFT JOIN training_credits c ON c.id = j.credit_id"
    ):
        spent = row["credit_status"] == "consumed" and row["training_id"] == row["lora_training_id"]
        if row["status"] == "failed" and spent:
            offenders.append(f"failed training {row['lora_training_id']} kept its credit")
        if row["status"] != "failed" and not spent:
            offenders.append(f"training {row['lora_training_id']} without its spent credit")
    for row in await db.fetchall(
        "SELECT id, step FROM training_orders WHERE status = 'submitting'"
    ):
        offenders.append(f"order {row['id']} still submitting (step {row['step']})")
    return offenders


def mentions(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    return [m for m in emulator.channel_messages(CHANNEL) if is_mention(m)]


def progress_cards(emulator: DiscordEmulator) -> list[dict[str, Any]]:
    return [
        m
        for m in emulator.channel_messages(CHANNEL)
        if not m.get("content")
        and m.get("embeds")
        and m["embeds"][0].get("title", "").startswith(("Training", "Trained"))
    ]


@pytest.mark.parametrize(("point", "how"), CASES)
async def test_a_paid_training_survives_a_stop_at(world: World, point: KillPoint, how: str) -> None:
    emulator, fal = world.emulator, world.fal
    fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 3
    if point.fails:
        fal.mode.error = "Not enough distinct images"
    await world.db.open()
    async with running_bot(world) as first:
        await link_wallet(world.db, ALICE, WALLET_A)
        credit = await paid_credit(world.db, ALICE, WALLET_A)
        gate = None if point.armed_after_progress else point.arm(world)
        shown = await preview(emulator)
        assert "Uses your training credit" in shown["embeds"][0]["description"]
        await (
            await emulator.click(shown, buttons(shown)["Start training"], user_id=ALICE)
        ).response()
        if gate is None:
            await emulator.wait_until(
                lambda: bool(progress_cards(emulator)), what="progress", timeout=15
            )
            gate = point.arm(world)
        await asyncio.wait_for(gate.reached.wait(), 20)
        await stop(first, how)
    gate.release()

    async with running_bot(world):
        if point.trained:
            await eventually(
                lambda: world.db.fetchone(
                    "SELECT 1 AS done FROM training_jobs WHERE notified_at IS NOT NULL"
                ),
                "the user to be told",
            )
            await asyncio.sleep(0.5)  # more polls: nothing is told or posted twice
            (told,) = mentions(emulator)
            title = card_of(emulator, told)["embeds"][0]["title"]
            assert title == ("Training mystyle failed" if point.fails else "Trained mystyle")
            assert len(progress_cards(emulator)) == 1  # one progress message, edited
            loras = await world.db.fetchall("SELECT status FROM lora_trainings")
            assert loras == [{"status": "failed" if point.fails else "completed"}]
            spent = await world.db.fetchone(
                "SELECT status FROM training_credits WHERE id = ?", (credit.id,)
            )
            assert spent == {"status": "available" if point.fails else "consumed"}
        else:
            # Nothing reached fal's books as ours: the credit is usable again, and the
            # next /train spends it instead of asking to pay again.
            await eventually(
                lambda: _credit_is(world.db, credit.id, "available"), "the credit to come back"
            )
            assert await world.db.fetchall("SELECT id FROM lora_trainings") == []
            assert mentions(emulator) == []
            again = await preview(emulator)
            assert "Uses your training credit" in again["embeds"][0]["description"]
        assert await money_invariant(world.db) == []
        assert await admin_audit(world) == 0, "lora-bot admin audit found offenders"
        assert len(fal.trainings) <= 1  # fal was asked at most once


async def _credit_is(db: Database, credit_id: str, status: str) -> bool:
    row = await db.fetchone("SELECT status FROM training_credits WHERE id = ?", (credit_id,))
    return row is not None and row["status"] == status


@pytest.mark.parametrize("how", list(SIGNALS))
async def test_a_generation_survives_a_stop_while_fal_works(world: World, how: str) -> None:
    """The generation kill point: fal holds the images. Nothing half-saved, the slot back."""
    world.images.mode.result = "hang"
    world.env["FAL_QUEUE_URL"] = world.images.base_url
    await world.db.open()
    async with running_bot(world) as first:
        await link_wallet(world.db, ALICE, WALLET_A)
        lora = lora_row()
        await insert_loras(world.db, [lora])
        ix = await world.emulator.run_command(
            "generate",
            user_id=ALICE,
            channel_id=CHANNEL,
            options={"lora": lora["id"], "prompt": "x"},
        )
        await ix.response()
        await world.emulator.wait_until(
            lambda: bool(world.images.submissions), what="fal", timeout=10
        )
        await stop(first, how)
    await asyncio.sleep(1.1)  # past GENERATION_RESERVATION_SECONDS
    async with running_bot(world):
        batches = await world.db.fetchall("SELECT status FROM generation_batches")
        assert batches == [{"status": "released"}]
        assert await world.db.fetchall("SELECT id FROM generated_images") == []
        assert await admin_audit(world) == 0


# The payment page's road: the page reports a payment, the bot verifies it (the claim
# and its credit in one transaction) and starts the training by itself. Killed while
# that start is on its way, the payment must be a usable credit after the restart, and
# the page asking again must start the training.
PAGE_START = [
    KillPoint(
        "verified from the payment page, starting (Are.na holds a download)",
        lambda w: w.arena.gates.arm("image"),
        trained=False,
    ),
    KillPoint(
        "verified from the payment page, fal asked (fal holds the submission)",
        lambda w: w.fal.gates.arm("submit"),
        trained=False,
    ),
]


# The scanner's road is the same start (Checkout.settle in the background), reached
# without any report: the payment is found on Base; it leaves the same usable credit.
ROADS = ("payment page", "payment scanner")


@pytest.mark.parametrize(
    ("point", "how", "road"),
    [
        pytest.param(p, sig, road, id=f"{road}: {p.name} - {sig}")
        for road in ROADS
        for p in PAGE_START
        for sig in SIGNALS
    ],
)
async def test_a_payment_page_start_survives_a_stop_at(
    world: World,
    point: KillPoint,
    how: str,
    road: str,
    anvil_node: AnvilNode,
    chain: DevChain,
    payment_contracts: PaymentContracts,
) -> None:
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
    wallet = (await chain.accounts())[8]
    treasury = Account.create().address
    port = world.env["HTTP_PORT"]
    world.env.update(
        BASE_RPC_URL=anvil_node.url,
        TREASURY_ADDRESS=treasury,
        CHAINLINK_ETH_USD_FEED=feed.address,
        PAYMENT_CONFIRMATIONS="1",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PAYMENT_SCAN_SECONDS="0.1" if road == "payment scanner" else "0",
    )
    world.fal.mode.script = [{"status": "IN_QUEUE", "queue_position": 1}] * 3

    async def report(order_id: str, tx_hash: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/pay/{order_id}", json={"tx_hash": tx_hash}) as r,
        ):
            body: dict[str, Any] = await r.json()
            return body

    await world.db.open()
    async with running_bot(world) as first:
        await link_wallet(world.db, ALICE, to_checksum_address(wallet))
        shown = await preview(world.emulator)
        url = next(
            c["url"] for row in shown["components"] for c in row["components"] if c.get("url")
        )
        order_id = url.rsplit("/", 1)[1]
        quote = await world.db.fetchone("SELECT wei FROM payment_quotes")
        assert quote is not None
        gate = point.arm(world)
        paid = await chain.send_transaction(to=treasury, value=int(quote["wei"]), sender=wallet)
        await chain.mine(1)
        if road == "payment page":
            assert (await report(order_id, paid.transaction_hash))["status"] == "verified"
        await asyncio.wait_for(gate.reached.wait(), 20)
        await stop(first, how)
    gate.release()

    async with running_bot(world):
        credit = await world.db.fetchone("SELECT id FROM training_credits")
        assert credit is not None
        await eventually(
            lambda: _credit_is(world.db, credit["id"], "available"), "the credit to come back"
        )
        assert await world.db.fetchall("SELECT id FROM lora_trainings") == []
        assert await money_invariant(world.db) == []
        assert await admin_audit(world) == 0, "lora-bot admin audit found offenders"
        # The page asks again (its retry, or a reload): the kept credit starts it.
        again = await report(order_id, paid.transaction_hash)
        assert again["status"] == "verified", again
        await eventually(
            lambda: world.db.fetchone(
                "SELECT 1 AS done FROM training_jobs WHERE notified_at IS NOT NULL"
            ),
            "the user to be told",
        )
        assert len(mentions(world.emulator)) == 1
        assert await _credit_is(world.db, credit["id"], "consumed")
        assert await money_invariant(world.db) == []
        assert await admin_audit(world) == 0
        # One training recorded (fal may have taken the held submission as well, after
        # the process that asked was gone: it is not ours, like any unrecorded job).
        assert len(await world.db.fetchall("SELECT id FROM lora_trainings")) == 1
