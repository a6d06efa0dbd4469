"""Paying without pasting anything, end to end: the real bot and discord.py against the
emulator, anvil, and the bot's payment scanner running as its background job. The
user sends ETH from a wallet app; the bot finds it on Base, the training starts and the
/train preview follows."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address

from bot.services.payments.prices import format_eth
from tests.e2e.conftest import BotHarness
from tests.e2e.test_train import (
    ALICE,
    buttons,
    card_of,
    mention,
    preview,
    services,
    styles,
    training_bot,
)
from tests.e2e.test_train_checkout import Shop, cards, order_of, shop
from tests.fakes.chain import DevChain
from tests.fakes.chain.fixtures import anvil_node, chain, rpc
from tests.fakes.chain.payment_chain import payment_contracts
from tests.fakes.discord import DiscordEmulator
from tests.support.gallery_rows import link_wallet

__all__ = ["anvil_node", "chain", "payment_contracts", "rpc", "services", "shop"]  # fixtures

SCAN = {"payment_scan_seconds": 0.05}


async def paste(emulator: DiscordEmulator, shown: dict[str, Any], tx_hash: str) -> str:
    """What the user sees after pasting `tx_hash` in the preview's modal."""
    ask = await emulator.click(shown, buttons(shown)["I've paid — paste the hash"], user_id=ALICE)
    modal = await ask.modal()
    submitted = await emulator.submit_modal(modal["custom_id"], {"tx_hash": tx_hash}, user_id=ALICE)
    await submitted.response()
    (answer,) = await submitted.followups(count=1, timeout=10)
    return str(answer["content"])


async def test_a_transfer_nobody_pasted_starts_the_training_and_the_preview_follows(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, chain: DevChain, shop: Shop
) -> None:
    async with training_bot(harness, services, **shop.settings, **SCAN) as bot:
        await link_wallet_of(bot, shop)
        shown = await preview(emulator)
        order = order_of(shown)
        wei = await quoted_wei(bot)

        # From a wallet app: a plain transfer, then two blocks (the confirmations).
        paid = await chain.send_transaction(to=shop.treasury, value=wei, sender=shop.wallet)
        await chain.mine(1)
        told = await mention(emulator)  # nobody pressed or pasted anything
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        (card,) = cards(emulator)
        followed = emulator.message(shown["id"])
        assert "Training started: 6 images" in followed["content"]
        assert f"/{card['id']}" in followed["content"]
        assert followed["embeds"] == [] and not followed.get("components")
        assert await bot.services.credits.available(ALICE) == []
        row = await bot.db.fetchone("SELECT tx_hash, kind FROM payments")
        assert row == {"tx_hash": paid.transaction_hash.lower(), "kind": "transfer"}

        # The payment page reporting it afterwards changes nothing.
        again = await shop.report(order, paid.transaction_hash)
        assert again["status"] == "verified" and "has started" in again["message"]
        # Pasted for a new /train: refused, already used.
        second = await preview(emulator)
        assert "already" in (await paste(emulator, second, paid.transaction_hash)).lower()
        assert await count(bot, "payments") == 1
        assert await count(bot, "training_credits") == 1
        assert await count(bot, "lora_trainings") == 1
        assert emulator.violations == []


async def test_a_part_found_on_base_then_a_top_up_transfer_starts_it(
    harness: BotHarness, emulator: DiscordEmulator, services: Any, chain: DevChain, shop: Shop
) -> None:
    async with training_bot(harness, services, **shop.settings, **SCAN) as bot:
        await link_wallet_of(bot, shop)
        shown = await preview(emulator)
        wei = await quoted_wei(bot)
        await chain.send_transaction(to=shop.treasury, value=wei // 2, sender=shop.wallet)
        await chain.mine(1)
        await emulator.wait_until(
            lambda: "Still missing" in emulator.message(shown["id"]).get("content", ""),
            what="the preview to say what is missing",
            timeout=10,
        )
        missing = wei - wei // 2
        topped = emulator.message(shown["id"])
        assert f"Still missing: **{format_eth(missing)}**" in topped["content"]
        assert styles(topped)["Pay the rest with a wallet"] == 5
        assert await bot.services.credits.available(ALICE) == []

        # Someone else's transfer, and one to another address: not this payment.
        stranger = (await chain.accounts())[7]
        await chain.send_transaction(to=shop.treasury, value=wei, sender=stranger)
        await chain.send_transaction(to=stranger, value=wei, sender=shop.wallet)
        await chain.send_transaction(to=shop.treasury, value=missing, sender=shop.wallet)
        await chain.mine(1)
        told = await mention(emulator)
        assert card_of(emulator, told)["embeds"][0]["title"] == "Trained mystyle"
        assert "Training started" in emulator.message(shown["id"])["content"]
        rows = await bot.db.fetchall("SELECT payer, credit_id FROM payments")
        assert {r["payer"] for r in rows} == {shop.wallet.lower()}
        assert len(rows) == 2 and len({r["credit_id"] for r in rows}) == 1
        assert await count(bot, "lora_trainings") == 1
        assert emulator.violations == []


async def link_wallet_of(bot: Any, shop: Shop) -> None:
    await link_wallet(bot.db, ALICE, to_checksum_address(shop.wallet))


async def quoted_wei(bot: Any) -> int:
    quote = await bot.db.fetchone("SELECT wei FROM payment_quotes ORDER BY created_at DESC")
    assert quote is not None
    return int(quote["wei"])


async def count(bot: Any, table: str) -> int:
    row = await bot.db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def test_the_scanner_runs_only_with_paid_training_and_an_interval(
    harness: BotHarness, services: Any, shop: Shop
) -> None:
    async with training_bot(harness, services, **shop.settings, **SCAN) as bot:
        assert bot.services.scanner is not None
        (job,) = [j for j in bot.jobs if j.name == "payment scanner"]
        assert job.running and job.every == 0.05
    # PAYMENT_SCAN_SECONDS=0 (the harness's default): paste and page only.
    async with training_bot(harness, services, **shop.settings) as bot:
        assert bot.services.scanner is None
        assert "payment scanner" not in {j.name for j in bot.jobs}
    # No paid training (no RPC, treasury or feed): nothing to scan for.
    async with training_bot(harness, services, **SCAN) as bot:
        assert bot.services.scanner is None
        assert "payment scanner" not in {j.name for j in bot.jobs}
