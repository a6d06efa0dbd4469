"""The payment scanner on a real node (anvil, behind a counting proxy): it finds a
payment nobody pasted and settles it through the same Checkout a paste goes through.

No fal here (the desk has no trainer): a settled payment shows as the claim and the
credit it bought; the start of the training and the preview are in
tests/e2e/test_payment_scan.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.clients.arena import ArenaClient
from bot.clients.rpc import JsonRpcClient
from bot.services.payments.refusals import PaymentAlreadyUsed
from bot.services.payments.scanner import BACKOFF_CAP, PaymentScanner
from bot.services.payments.verifier import PaymentVerifier
from bot.services.training.checkout import Checkout
from bot.services.training.desk import TrainingDesk
from bot.services.training.images import arena_image_fetcher
from storage import payment_scan, training_orders
from storage.payments import Quote
from storage.timefmt import iso
from storage.training_orders import Order
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.payment_chain import PaymentContracts, payment_contracts
from tests.fakes.chain.rpc_proxy import RpcProxy
from tests.integration.test_smart_wallet_payments import Bundles, bundles
from tests.support.money_rows import new_order
from tests.support.payment_flow import USER, Flow, count, flow

__all__ = ["bundles", "flow", "payment_contracts"]  # fixtures


class Ticks:
    """The scanner's monotonic clock, moved by the test (backoff without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Scan:
    flow: Flow
    proxy: RpcProxy
    rpc: JsonRpcClient  # through the proxy
    checkout: Checkout
    scanner: PaymentScanner
    ticks: Ticks

    async def open_order(self, *, wallet: str | None = None) -> tuple[Order, Quote]:
        """A /train order awaiting the payment of a fresh quote (as /train makes it)."""
        wallet = wallet or self.flow.wallet
        quote = await self.flow.quote(wallet=wallet)
        order = await new_order(self.flow.db, USER, wallet)
        await training_orders.set_quote(self.flow.db, order.id, quote.id, now=iso(quote.created_at))
        quoted = await training_orders.get(self.flow.db, order.id)
        assert quoted is not None
        return quoted, quote

    def another_scanner(self) -> PaymentScanner:
        return PaymentScanner(
            self.flow.db,
            self.rpc,
            self.checkout,
            self.flow.treasury,
            confirmations=2,
            clock=self.flow.clock,
            monotonic=self.ticks,
        )

    async def settled(self) -> list[tuple[str, str | None]]:
        rows = await self.flow.db.fetchall(
            "SELECT tx_hash, credit_id FROM payments ORDER BY verified_at"
        )
        return [(r["tx_hash"], r["credit_id"]) for r in rows]


@pytest.fixture
async def scan(flow: Flow, anvil_node: AnvilNode) -> AsyncIterator[Scan]:
    proxy = RpcProxy(anvil_node.url)
    await proxy.start()
    async with aiohttp.ClientSession() as http:
        rpc = JsonRpcClient(proxy.url, http)
        verifier = PaymentVerifier(
            flow.db, rpc, flow.treasury, min_confirmations=2, clock=flow.clock
        )
        desk = TrainingDesk(
            flow.db,
            ArenaClient(http),
            flow.credits,
            arena_image_fetcher(http),
            trainer=None,
            storage=None,
            quoter=flow.quoter,
            verifier=verifier,
            clock=flow.clock,
        )
        checkout = Checkout(desk)
        ticks = Ticks()
        scanner = PaymentScanner(
            flow.db,
            rpc,
            checkout,
            flow.treasury,
            confirmations=2,
            clock=flow.clock,
            monotonic=ticks,
        )
        yield Scan(flow, proxy, rpc, checkout, scanner, ticks)
    await proxy.stop()


async def test_a_transfer_from_the_linked_wallet_is_found_and_claimed_once(scan: Scan) -> None:
    flow = scan.flow
    order, quote = await scan.open_order()
    tx = await flow.pay(quote.wei)

    # Mined, one confirmation: not yet (two are configured).
    turn = await scan.scanner.scan_once()
    assert turn is not None and turn.first_block == quote.created_block + 1
    assert await scan.settled() == []

    await flow.chain.mine(1)
    turn = await scan.scanner.scan_once()
    assert turn is not None and turn.settled == 1
    ((found, credit_id),) = await scan.settled()
    assert found == tx and credit_id is not None
    (credit,) = await flow.credits.available(USER)
    assert credit.id == credit_id
    stored = await training_orders.get(flow.db, order.id)
    assert stored is not None and stored.tx_hash == tx  # as if pasted on this order
    # Blocks came in batches (one per turn here), with their transactions.
    assert scan.proxy.batches and all(
        set(b) == {"eth_getBlockByNumber"} for b in scan.proxy.batches
    )

    # Scanning on finds nothing new and claims nothing twice.
    await flow.chain.mine(3)
    assert (await scan.scanner.scan_once()) is not None
    assert len(await scan.settled()) == 1

    # The same hash checked afterwards for another order, as a paste is: already used.
    # (Through `settle` the unspent credit would pay that order: no fal here to spend it
    # on the first; the e2e test pastes it in Discord.)
    other, _ = await scan.open_order()
    with pytest.raises(PaymentAlreadyUsed):
        await scan.checkout.desk.verify(other, tx)
    assert await count(flow.db, "payments") == 1
    assert await count(flow.db, "training_credits") == 1


async def test_transfers_that_are_not_the_payment_are_left_alone(scan: Scan) -> None:
    flow = scan.flow
    _, quote = await scan.open_order()
    elsewhere = flow.chain  # transfers the scanner sees but must not count:
    await flow.pay(quote.wei, sender=flow.stranger)  # from another wallet
    await flow.pay(quote.wei, to=flow.stranger)  # from the wallet, to another address
    await elsewhere.mine(2)
    assert (await scan.scanner.scan_once()) is not None
    assert await scan.settled() == []

    # After the window: the quote ran out at the last block's time.
    latest = await flow.rpc.call("eth_getBlockByNumber", ["latest", False])
    ended = datetime.fromtimestamp(int(latest["timestamp"], 16), UTC)
    await flow.db.execute(
        "UPDATE payment_quotes SET expires_at = ? WHERE id = ?", (iso(ended), quote.id)
    )
    await flow.rpc.call("evm_increaseTime", [5])
    await flow.pay(quote.wei)
    await flow.chain.mine(2)
    assert (await scan.scanner.scan_once()) is not None
    assert await scan.settled() == []
    assert await flow.credits.available(USER) == []


async def test_a_part_is_recorded_and_a_top_up_transfer_completes_it(scan: Scan) -> None:
    flow = scan.flow
    _, quote = await scan.open_order()
    part = await flow.pay(quote.wei // 3)
    await flow.chain.mine(1)
    await scan.scanner.scan_once()
    assert await scan.settled() == [(part, None)]  # a part: no credit yet
    assert await flow.credits.available(USER) == []

    rest = await flow.pay(quote.wei - quote.wei // 3)
    await flow.chain.mine(1)
    await scan.scanner.scan_once()
    rows = await scan.settled()
    assert [tx for tx, _ in rows] == [part, rest]
    credit_ids = {credit for _, credit in rows}
    assert len(credit_ids) == 1 and None not in credit_ids
    assert len(await flow.credits.available(USER)) == 1


async def test_a_smart_wallet_payment_is_found_from_the_call_trace(
    scan: Scan, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    flow = scan.flow
    account = await bundles.account(payment_contracts, 10**17)
    _, quote = await scan.open_order(wallet=account)
    tx = await bundles.handle_ops([(account, flow.treasury, quote.wei)])
    await flow.chain.mine(1)

    await scan.scanner.scan_once()

    assert await scan.settled() == [(tx, (await flow.credits.available(USER))[0].id)]
    assert scan.proxy.methods["debug_traceTransaction"] >= 1
    row = await flow.db.fetchone("SELECT kind, payer FROM payments")
    assert row == {"kind": "internal", "payer": account.lower()}


async def test_without_traces_a_smart_wallet_payment_is_left_to_the_paste(
    scan: Scan, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    flow = scan.flow
    scan.proxy.traces = False
    account = await bundles.account(payment_contracts, 10**17)
    _, quote = await scan.open_order(wallet=account)
    await bundles.handle_ops([(account, flow.treasury, quote.wei)])
    await flow.chain.mine(1)

    turn = await scan.scanner.scan_once()

    assert turn is not None  # not an error: the scan went on past the block
    assert scan.scanner.failures == 0
    assert await scan.settled() == []
    traced = scan.proxy.methods["debug_traceTransaction"]
    # It does not ask again at every turn (an hour later, it does).
    await flow.chain.mine(1)
    await scan.scanner.scan_once()
    assert scan.proxy.methods["debug_traceTransaction"] == traced


async def test_no_rpc_request_while_no_quote_is_open(scan: Scan) -> None:
    flow = scan.flow
    for _ in range(3):
        assert await scan.scanner.scan_once() is None
    assert scan.proxy.http_requests == 0

    # A quote that expired a while ago is not open either.
    order, quote = await scan.open_order()
    before = scan.proxy.http_requests  # quoting read the feed (not through the proxy)
    await flow.db.execute(
        "UPDATE payment_quotes SET expires_at = ? WHERE id = ?",
        (iso(flow.clock() - timedelta(minutes=10)), quote.id),
    )
    assert await scan.scanner.scan_once() is None
    assert scan.proxy.http_requests == before == 0

    # Nor is a quote whose order was cancelled or submitted.
    await flow.db.execute(
        "UPDATE payment_quotes SET expires_at = ? WHERE id = ?",
        (iso(quote.expires_at), quote.id),
    )
    await training_orders.move(
        flow.db, order.id, from_status="draft", to_status="cancelled", now=iso(flow.clock())
    )
    assert await scan.scanner.scan_once() is None
    assert scan.proxy.http_requests == 0

    await scan.open_order()
    assert await scan.scanner.scan_once() is not None
    assert scan.proxy.http_requests > 0


async def test_rpc_errors_back_off_logged_once_and_the_scan_resumes(
    scan: Scan, caplog: pytest.LogCaptureFixture
) -> None:
    flow = scan.flow
    _, quote = await scan.open_order()
    tx = await flow.pay(quote.wei)
    await flow.chain.mine(1)
    scan.proxy.failing = True
    caplog.set_level(logging.INFO, logger="bot.services.payments.scanner")

    waits = []
    for _ in range(12):
        asked = scan.proxy.http_requests
        assert await scan.scanner.scan_once() is None  # never raises
        assert scan.proxy.http_requests == asked + 1
        # Right after a failure: no request until the backoff has passed.
        assert await scan.scanner.scan_once() is None
        assert scan.proxy.http_requests == asked + 1
        waits.append(scan.scanner.backoff)
        scan.ticks.now += scan.scanner.backoff
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0]
    assert waits[-1] == BACKOFF_CAP
    paused = [r for r in caplog.records if "payment scan paused" in r.getMessage()]
    assert len(paused) == 1 and "secret" not in paused[0].getMessage()

    scan.proxy.failing = False
    assert await scan.scanner.scan_once() is not None
    assert scan.scanner.failures == 0
    assert await scan.settled() == [(tx, (await flow.credits.available(USER))[0].id)]
    assert any("works again" in r.getMessage() for r in caplog.records)


async def test_the_cursor_is_shared_by_processes_and_a_gap_starts_at_the_oldest_quote(
    scan: Scan,
) -> None:
    flow = scan.flow
    # Long before any quote: the scan will not start there.
    await flow.chain.mine(5)
    _, quote = await scan.open_order()
    await flow.chain.mine(3)
    first = await scan.scanner.scan_once()
    assert first is not None and first.first_block == quote.created_block + 1
    assert await payment_scan.next_block(flow.db) == first.last_block + 1

    # A second process resumes where the first stopped: no range twice.
    await flow.chain.mine(2)
    second = await scan.another_scanner().scan_once()
    assert second is not None and second.first_block == first.last_block + 1
    # A process that read a stale cursor cannot move it back.
    assert not await payment_scan.advance(
        flow.db, expected=first.first_block, to=first.last_block + 1, now=flow.clock()
    )
    assert await payment_scan.next_block(flow.db) == second.last_block + 1

    # Hours of blocks behind: one turn reads at most 200, in batches of 20.
    await flow.chain.mine(250)
    scan.proxy.batches.clear()
    behind = await scan.scanner.scan_once()
    assert behind is not None and behind.last_block - behind.first_block + 1 == 200
    assert [len(b) for b in scan.proxy.batches] == [20] * 10
    while (
        turn := await scan.scanner.scan_once()
    ) is not None and turn.last_block >= turn.first_block:
        pass  # caught up

    # Two scanners at once over the same new blocks: one payment claimed once.
    tx = await flow.pay(quote.wei)
    await flow.chain.mine(1)
    await asyncio.gather(scan.scanner.scan_once(), scan.another_scanner().scan_once())
    assert [t for t, _ in await scan.settled()] == [tx]
    assert len(await flow.credits.available(USER)) == 1
