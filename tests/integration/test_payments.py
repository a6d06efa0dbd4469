"""PaymentVerifier against real value transfers on a real node (anvil, chain id 8453)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account

from bot.clients.rpc import JsonRpcClient, RpcUnavailable
from bot.errors import Moment, ServiceUnavailable
from bot.services.payments.prices import format_eth
from bot.services.payments.refusals import (
    InvalidTransactionHash,
    PaidBeforeQuote,
    PaymentAfterExpiry,
    PaymentAlreadyUsed,
    QuoteExpired,
    QuoteNotFound,
    QuoteWalletChanged,
    TransactionFailed,
    TransactionNotFound,
    Underpaid,
    WrongChain,
    WrongRecipient,
    WrongSender,
)
from bot.services.payments.verifier import (
    PaymentPartial,
    PaymentPending,
    PaymentVerified,
    PaymentVerifier,
)
from storage import payments as payment_store
from storage.credits import Credit
from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from storage.payments import NewPayment, Quote
from storage.timefmt import iso
from tests.fakes.chain import AnvilNode, DevChain, ScriptedRpcServer
from tests.fakes.chain.payment_chain import (
    REVERTING_CODE,
    payment_contracts,
    send_unchecked,
    wait_for_receipt,
)
from tests.support.payment_flow import (
    OTHER_USER,
    PRICE_USD,
    USER,
    Flow,
    closed_port,
    count,
    flow,
)

__all__ = ["flow", "payment_contracts"]  # fixtures


# --- the good path ---------------------------------------------------------------------
async def test_a_payment_waits_for_confirmations_then_becomes_one_credit(flow: Flow) -> None:
    quote = await flow.quote()
    # $4 at $3000 is 0.001333… ETH: quoted as 0.001334 ETH (rounded up to 6 decimals).
    assert quote.wei == 1_334 * 10**12 > 4 * 10**18 // 3000 + 1
    tx_hash = await flow.pay(quote.wei)

    first = await flow.verify(quote, tx_hash)
    assert isinstance(first, PaymentPending)
    assert (first.reason, first.confirmations, first.needed) == ("confirmations", 1, 2)
    assert "waiting for 2 confirmations (1 so far)" in first.message
    assert first.retry_after > 0
    assert await flow.credits.available(USER) == []

    await flow.chain.mine(1)
    result = await flow.verify(quote, tx_hash)

    assert isinstance(result, PaymentVerified)
    assert (result.tx_hash, result.value_wei, result.kind) == (tx_hash, quote.wei, "transfer")
    credit = result.credit
    assert (credit.discord_user_id, credit.wallet, credit.source) == (USER, flow.wallet, "payment")
    assert (credit.status, credit.payment_id) == ("available", result.payment_id)
    assert await flow.credits.available(USER) == [credit]
    assert await flow.credits.available(OTHER_USER) == []
    row = await flow.db.fetchone("SELECT * FROM payments WHERE id = ?", (result.payment_id,))
    assert row is not None
    assert (row["tx_hash"], row["payer"], row["value_wei"], row["quote_id"]) == (
        tx_hash,
        flow.wallet.lower(),
        str(quote.wei),
        quote.id,
    )
    assert row["block_number"] == result.block_number
    assert row["chain_id"] == 8453


async def test_overpaying_is_accepted_and_the_hash_is_normalised(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei + 10**12)
    await flow.chain.mine(1)
    pasted = f"  {tx_hash.upper().replace('0X', '0x')}\n"

    result = await flow.verify(quote, pasted)

    assert isinstance(result, PaymentVerified)
    assert (result.tx_hash, result.value_wei) == (tx_hash.lower(), quote.wei + 10**12)


async def test_a_late_check_of_a_payment_mined_in_time_still_counts(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    flow.clock.shift = timedelta(hours=3)  # the quote has expired by the time we check

    result = await flow.verified(quote, tx_hash)

    assert result.value_wei == quote.wei


# --- refusals --------------------------------------------------------------------------
async def test_wrong_sender(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei, sender=flow.stranger)
    await flow.chain.mine(1)

    with pytest.raises(WrongSender) as refused:
        await flow.verify(quote, tx_hash)

    assert f"sent from {flow.stranger[:6]}…{flow.stranger[-4:]}" in refused.value.message
    assert f"linked wallet {flow.wallet[:6]}…" in refused.value.message
    assert await count(flow.db, "training_credits") == 0


@pytest.mark.parametrize("traces", [True, False])
async def test_wrong_recipient(flow: Flow, traces: bool) -> None:
    quote = await flow.quote()
    elsewhere = Account.create().address
    tx_hash = await flow.pay(quote.wei, to=elsewhere)
    await flow.chain.mine(1)

    with pytest.raises(WrongRecipient) as refused:
        await flow.verify(quote, tx_hash, verifier=flow.verifier_with(use_call_traces=traces))

    assert f"paid {elsewhere[:6]}…{elsewhere[-4:]}" in refused.value.message
    assert flow.treasury in refused.value.message


async def test_a_transaction_sending_nothing_is_refused(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(0)
    await flow.chain.mine(1)

    with pytest.raises(Underpaid) as refused:
        await flow.verify(quote, tx_hash)

    assert (refused.value.sent_wei, refused.value.needed_wei) == (0, quote.wei)
    assert "sent 0 ETH" in refused.value.message
    assert "is 0.001334 ETH" in refused.value.message
    assert await count(flow.db, "payments") == 0


# --- paying in parts: an underpayment topped up by a second transaction ------------------
async def test_an_underpayment_is_recorded_and_says_what_is_missing(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei - 1)  # one wei short
    await flow.chain.mine(1)

    part = await flow.verify(quote, tx_hash)

    assert isinstance(part, PaymentPartial)
    assert (part.value_wei, part.total_wei, part.needed_wei) == (
        quote.wei - 1,
        quote.wei - 1,
        quote.wei,
    )
    assert part.missing_wei == 10**12  # one wei, shown as the smallest readable step
    assert "Still missing: 0.000001 ETH." in part.message
    assert flow.treasury in part.message
    assert Moment(quote.expires_at, "relative") in part.parts
    assert await flow.credits.available(USER) == []
    rows = await flow.db.fetchall("SELECT tx_hash, credit_id FROM payments")
    assert [(r["tx_hash"], r["credit_id"]) for r in rows] == [(tx_hash, None)]
    # Asking again about the same transaction answers the same: nothing counted twice.
    again = await flow.verify(quote, tx_hash)
    assert again == part
    assert await count(flow.db, "payments") == 1


async def test_two_transactions_that_together_reach_the_quote_buy_one_credit(
    flow: Flow,
) -> None:
    quote = await flow.quote()
    first = await flow.pay(quote.wei // 3)
    await flow.chain.mine(1)
    part = await flow.verify(quote, first)
    assert isinstance(part, PaymentPartial)
    rest = part.missing_wei
    assert quote.wei // 3 + rest >= quote.wei

    second = await flow.pay(rest)
    result = await flow.verified(quote, second)

    assert result.value_wei == rest and result.total_wei == quote.wei // 3 + rest
    assert f"{format_eth(quote.wei // 3 + rest)} received" in result.message
    assert await flow.credits.available(USER) == [result.credit]
    rows = await flow.db.fetchall("SELECT tx_hash, credit_id FROM payments ORDER BY verified_at")
    assert {r["tx_hash"]: r["credit_id"] for r in rows} == {
        first: result.credit.id,
        second: result.credit.id,
    }
    # Neither transaction pays again: not for this quote, not for another.
    for tx_hash in (first, second):
        with pytest.raises(PaymentAlreadyUsed):
            await flow.verify(quote, tx_hash)
        with pytest.raises(PaymentAlreadyUsed):
            await flow.verify(await flow.quote(), tx_hash)
    assert await count(flow.db, "training_credits") == 1


async def test_a_part_counts_only_toward_its_own_quote(flow: Flow) -> None:
    """A part of one quote cannot be reused to top up another (or a stranger's)."""
    quote = await flow.quote()
    part_hash = await flow.pay(quote.wei // 2)
    await flow.chain.mine(1)
    assert isinstance(await flow.verify(quote, part_hash), PaymentPartial)

    other = await flow.quote()
    with pytest.raises(PaymentAlreadyUsed):
        await flow.verify(other, part_hash)
    stranger_quote = await flow.quote(user=OTHER_USER, wallet=flow.stranger)
    with pytest.raises(WrongSender):
        await flow.verify(stranger_quote, part_hash, user=OTHER_USER, wallet=flow.stranger)
    # The other quote's own full payment is not mixed with the first quote's part.
    full = await flow.pay(other.wei)
    result = await flow.verified(other, full)
    assert result.total_wei is None and result.value_wei == other.wei
    left = await flow.db.fetchone("SELECT credit_id FROM payments WHERE tx_hash = ?", (part_hash,))
    assert left is not None and left["credit_id"] is None


async def test_a_top_up_mined_after_the_quote_expired_is_refused_and_the_part_stays(
    flow: Flow,
) -> None:
    quote = await flow.quote()
    first = await flow.pay(quote.wei // 2)
    await flow.chain.mine(1)
    assert isinstance(await flow.verify(quote, first), PaymentPartial)
    # The quote runs out right after the first transaction's block.
    receipt = await flow.rpc.call("eth_getTransactionReceipt", [first])
    block = await flow.rpc.call("eth_getBlockByNumber", [receipt["blockNumber"], False])
    mined = datetime.fromtimestamp(int(block["timestamp"], 16), UTC)
    await flow.db.execute(
        "UPDATE payment_quotes SET expires_at = ? WHERE id = ?", (iso(mined), quote.id)
    )
    await flow.rpc.call("evm_increaseTime", [2])  # the next block is seconds later
    second = await flow.pay(quote.wei)
    await flow.chain.mine(1)

    with pytest.raises(PaymentAfterExpiry):
        await flow.verify(quote, second)

    assert await flow.credits.available(USER) == []
    rows = await flow.db.fetchall("SELECT tx_hash, credit_id FROM payments")
    assert [(r["tx_hash"], r["credit_id"]) for r in rows] == [(first, None)]


async def test_a_failed_transaction_is_refused(flow: Flow) -> None:
    await flow.chain.set_code(flow.treasury, REVERTING_CODE)  # refuses every transfer
    quote = await flow.quote()
    tx_hash = await send_unchecked(
        flow.chain, sender=flow.wallet, to=flow.treasury, value=quote.wei
    )
    receipt = await wait_for_receipt(flow.chain, tx_hash)
    assert receipt["status"] == "0x0"
    await flow.chain.mine(1)

    with pytest.raises(TransactionFailed, match="failed on Base"):
        await flow.verify(quote, tx_hash)


async def test_a_payment_older_than_the_quote_is_refused(flow: Flow) -> None:
    tx_hash = await flow.pay(2 * 10**15)
    quote = await flow.quote()
    await flow.chain.mine(1)

    with pytest.raises(PaidBeforeQuote, match="made before the quote"):
        await flow.verify(quote, tx_hash)


async def test_an_unknown_hash_is_not_found_yet(flow: Flow) -> None:
    quote = await flow.quote()
    with pytest.raises(TransactionNotFound) as refused:
        await flow.verify(quote, "0x" + secrets.token_hex(32))
    assert "not found yet" in refused.value.message
    assert "press Check again" in refused.value.message


@pytest.mark.parametrize(
    "pasted",
    ["", "0x1234", "0x" + "g" * 64, "0x" + "ab" * 33, "hello", "https://example.org/tx/0x12"],
)
async def test_what_is_not_a_hash_is_refused_without_asking_the_chain(
    flow: Flow, pasted: str
) -> None:
    quote = await flow.quote()
    with pytest.raises(InvalidTransactionHash, match="64 hexadecimal"):
        await flow.verify(quote, pasted)


async def test_an_explorer_link_is_accepted_as_the_hash(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    result = await flow.verified(quote, f"https://basescan.org/tx/{tx_hash}")
    assert result.tx_hash == tx_hash


async def test_the_quote_must_be_this_users_and_for_the_linked_wallet(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    await flow.chain.mine(1)

    with pytest.raises(QuoteNotFound):
        await flow.verifier.verify("no-such-quote", tx_hash, USER, flow.wallet)
    with pytest.raises(QuoteNotFound):
        await flow.verify(quote, tx_hash, user=OTHER_USER)
    with pytest.raises(QuoteWalletChanged, match="linked wallet is now"):
        await flow.verify(quote, tx_hash, wallet=flow.stranger)
    # The wallet compares case-insensitively.
    result = await flow.verify(quote, tx_hash, wallet=flow.wallet.lower())
    assert isinstance(result, PaymentVerified)


# --- reuse -----------------------------------------------------------------------------
async def test_a_hash_pays_once(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    await flow.verified(quote, tx_hash)

    with pytest.raises(PaymentAlreadyUsed) as again:
        await flow.verify(quote, tx_hash)
    assert again.value.by_you
    assert "already verified" in again.value.message
    # Another quote of the same user does not make it new again.
    with pytest.raises(PaymentAlreadyUsed):
        await flow.verify(await flow.quote(), tx_hash)
    # Nor does another Discord user who links the same wallet later.
    other_quote = await flow.quote(user=OTHER_USER)
    with pytest.raises(PaymentAlreadyUsed) as theirs:
        await flow.verify(other_quote, tx_hash, user=OTHER_USER)
    assert not theirs.value.by_you
    assert "already used" in theirs.value.message
    assert await count(flow.db, "payments") == 1
    assert await count(flow.db, "training_credits") == 1


async def test_two_checks_of_one_hash_at_once_give_exactly_one_credit(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    await flow.chain.mine(1)

    outcomes = await asyncio.gather(
        *(flow.verify(quote, tx_hash) for _ in range(6)), return_exceptions=True
    )

    verified = [o for o in outcomes if isinstance(o, PaymentVerified)]
    refused = [o for o in outcomes if isinstance(o, PaymentAlreadyUsed)]
    assert (len(verified), len(refused)) == (1, 5), outcomes
    assert all(r.by_you for r in refused)
    assert await count(flow.db, "payments") == 1
    assert [c.id for c in await flow.credits.available(USER)] == [verified[0].credit.id]


# --- expiry ----------------------------------------------------------------------------
async def test_a_payment_mined_after_the_quote_expired_is_refused(flow: Flow) -> None:
    flow.clock.shift = -timedelta(minutes=20)  # quoted 20 minutes ago: expired 5 minutes ago
    quote = await flow.quote()
    flow.clock.shift = timedelta()
    tx_hash = await flow.pay(quote.wei)
    await flow.chain.mine(1)

    with pytest.raises(PaymentAfterExpiry) as refused:
        await flow.verify(quote, tx_hash)

    assert refused.value.mined_at > quote.expires_at
    assert "after this price quote expired" in refused.value.message


async def test_an_expired_quote_without_a_payment(flow: Flow) -> None:
    flow.clock.shift = -timedelta(minutes=20)
    quote = await flow.quote()
    flow.clock.shift = timedelta()

    with pytest.raises(QuoteExpired) as refused:
        await flow.verify(quote, "0x" + secrets.token_hex(32))

    # The error carries the moment; each face renders it (Discord: a live timestamp).
    assert Moment(quote.expires_at, "relative") in refused.value.parts
    assert "<t:" not in refused.value.message
    assert "Run /train again" in refused.value.message


# --- not mined yet ---------------------------------------------------------------------
async def test_a_transaction_waiting_in_the_mempool_is_pending_then_verified(
    db: Database,
) -> None:
    async with (
        AnvilNode(extra_args=("--no-mining",)) as node,
        aiohttp.ClientSession() as session,
    ):
        rpc = JsonRpcClient(node.url, session)
        chain = DevChain(rpc)
        wallet = (await chain.accounts())[1]
        treasury = Account.create().address
        quote = await store_quote(db, rpc, wallet, wei=10**15)
        verifier = PaymentVerifier(db, rpc, treasury, min_confirmations=2)
        tx = {"from": wallet, "to": treasury, "value": hex(10**15)}
        tx_hash = await rpc.call("eth_sendTransaction", [tx])

        waiting = await verifier.verify(quote.id, tx_hash, USER, wallet)
        assert isinstance(waiting, PaymentPending)
        assert (waiting.reason, waiting.confirmations) == ("not_mined", 0)
        assert "still pending" in waiting.message

        await rpc.call("evm_mine", [])
        confirming = await verifier.verify(quote.id, tx_hash, USER, wallet)
        assert isinstance(confirming, PaymentPending)
        assert (confirming.reason, confirming.confirmations) == ("confirmations", 1)

        await rpc.call("evm_mine", [])
        assert isinstance(await verifier.verify(quote.id, tx_hash, USER, wallet), PaymentVerified)


async def test_a_wrong_payment_is_refused_before_it_is_mined(db: Database) -> None:
    async with (
        AnvilNode(extra_args=("--no-mining",)) as node,
        aiohttp.ClientSession() as session,
    ):
        rpc = JsonRpcClient(node.url, session)
        accounts = await DevChain(rpc).accounts()
        treasury = Account.create().address
        quote = await store_quote(db, rpc, accounts[1], wei=10**15)
        verifier = PaymentVerifier(db, rpc, treasury)
        tx = {"from": accounts[2], "to": treasury, "value": hex(10**15)}
        tx_hash = await rpc.call("eth_sendTransaction", [tx])

        with pytest.raises(WrongSender):
            await verifier.verify(quote.id, tx_hash, USER, accounts[1])


async def store_quote(db: Database, rpc: JsonRpcClient, wallet: str, *, wei: int) -> Quote:
    now = datetime.now(UTC)
    quote = Quote(
        id=secrets.token_hex(16),
        discord_user_id=USER,
        wallet=wallet,
        usd=PRICE_USD,
        wei=wei,
        eth_usd=Decimal(4) * 10**18 / wei,
        created_at=now,
        expires_at=now + timedelta(minutes=15),
        created_block=int(await rpc.call("eth_blockNumber", []), 16),
    )
    await payment_store.insert_quote(db, quote)
    return quote


# --- the node: wrong chain, down ---------------------------------------------------------
async def test_a_node_on_another_chain_is_refused(flow: Flow) -> None:
    quote = await flow.quote()
    tx_hash = await flow.pay(quote.wei)
    async with AnvilNode(chain_id=1) as mainnet, aiohttp.ClientSession() as session:
        verifier = flow.verifier_with(rpc=JsonRpcClient(mainnet.url, session))
        with pytest.raises(WrongChain) as refused:
            await flow.verify(quote, tx_hash, verifier=verifier)
    assert (refused.value.actual, refused.value.expected) == (1, 8453)
    assert "wrong network" in refused.value.message


async def test_the_node_down_is_service_unavailable(flow: Flow) -> None:
    quote = await flow.quote()
    async with aiohttp.ClientSession() as session:
        down = JsonRpcClient(f"http://127.0.0.1:{closed_port()}", session, timeout=1)
        with pytest.raises(RpcUnavailable) as refused:
            await flow.verify(quote, "0x" + "ab" * 32, verifier=flow.verifier_with(rpc=down))
    assert isinstance(refused.value, ServiceUnavailable)
    assert "try again" in refused.value.message


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedRpcServer]:
    server = ScriptedRpcServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "script",
    [
        lambda s: s.error(-32603, "internal error"),
        lambda s: s.result({"unexpected": True}),
        lambda s: s.raw(b"not json"),
    ],
    ids=["rpc-error", "malformed", "garbage"],
)
async def test_a_node_answering_badly_is_service_unavailable(
    flow: Flow, scripted: ScriptedRpcServer, script: Callable[[ScriptedRpcServer], None]
) -> None:
    quote = await flow.quote()
    script(scripted)
    async with aiohttp.ClientSession() as session:
        broken = JsonRpcClient(scripted.url, session, timeout=1)
        with pytest.raises(ServiceUnavailable):
            await flow.verify(quote, "0x" + "ab" * 32, verifier=flow.verifier_with(rpc=broken))


async def test_a_transaction_lookup_error_is_service_unavailable(
    flow: Flow, scripted: ScriptedRpcServer
) -> None:
    quote = await flow.quote()

    async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if body["method"] == "eth_chainId":
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x2105"})
        error = {"code": -32000, "message": "header not found"}
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})

    scripted.respond(answer)
    async with aiohttp.ClientSession() as session:
        broken = JsonRpcClient(scripted.url, session, timeout=1)
        with pytest.raises(RpcUnavailable):
            await flow.verify(quote, "0x" + "ab" * 32, verifier=flow.verifier_with(rpc=broken))
    assert [r["method"] for r in scripted.requests] == ["eth_chainId", "eth_getTransactionByHash"]


# --- the claim itself, raced by two database processes -------------------------------------
async def test_claims_of_one_payment_from_two_processes_let_exactly_one_through(
    tmp_path: Path,
) -> None:
    config = DatabaseConfig(url=f"file:{tmp_path / 'race.db'}")
    first, second = Database(config), Database(config)
    await first.open()
    await second.open()
    try:
        await migrate(first)
        now = datetime.now(UTC)
        quote = Quote("q1", USER, "0xAb", PRICE_USD, 10**15, Decimal(4000), now, now, 1)
        await payment_store.insert_quote(first, quote)
        base = NewPayment(
            "p",
            "0x" + "cd" * 32,
            "0xab",
            "q1",
            USER,
            "0xAb",
            10**15,
            "transfer",
            8453,
            2,
            "0x" + "ef" * 32,
        )
        credit = Credit("c", USER, "0xAb", "payment", None, "available", now)

        async def attempt(db: Database, i: int) -> bool:
            payment = replace(base, id=f"p{i}")
            return await payment_store.claim(
                db, payment, replace(credit, id=f"c{i}", payment_id=f"p{i}"), now="t"
            )

        outcomes = await asyncio.gather(
            *(attempt(first if i % 2 else second, i) for i in range(20))
        )
        assert outcomes.count(True) == 1
        assert await count(first, "payments") == 1
        assert await count(first, "training_credits") == 1
    finally:
        await first.close()
        await second.close()
