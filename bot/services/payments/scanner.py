"""`PaymentScanner`: find payments on Base by itself, so nobody has to paste a hash.

While at least one quote is open (a draft order whose quote has not expired), each
turn reads the blocks that gained the configured confirmations since the last turn
(`latest - confirmations + 1`, as the verifier counts them: a reorg deeper than that is
what confirmations are for) and looks, in one pass for every open quote, for:

- a plain transfer to the treasury from an open order's linked wallet;
- with a node that traces (`debug_traceTransaction`, callTracer), a smart wallet's
  payment: the outer transaction goes to an ERC-4337 EntryPoint or to the wallet itself
  (its owner's call, an EIP-7702 account) and an internal call sends the treasury value
  from the linked wallet. A node without traces leaves that to the paste path.

A candidate in the quote's window (a block after the quote's block, its timestamp not
after the expiry) is handed to `Checkout.settle(order, tx)`, the road a pasted hash
takes: the same checks and the same UNIQUE claim, so a part is recorded as a part (a
later transfer tops it up), a hash pasted later changes nothing, and the training starts
(in the background) with the preview following through Checkout's follower.

Cost is bounded: no RPC request at all while no quote is open; blocks are fetched in
JSON-RPC batches; a turn reads at most `max_blocks`; after downtime the scan starts at
the oldest open quote's block, never at genesis. The cursor lives in `payment_scan`
and moves by compare and set (two processes do not both count a range). RPC or
database errors back off exponentially (capped), logged once per streak; `scan_once`
never raises, so the loop that runs it goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clients import chain as chain_reads
from bot.clients.chain import ChainBlock
from bot.clients.rpc import JsonRpcClient
from bot.errors import ServiceUnavailable, UserFacingError
from bot.services.payments.refusals import PaymentAlreadyUsed
from bot.services.payments.verifier import BLOCK_SECONDS, ENTRY_POINTS
from bot.services.training.checkout import Checkout
from storage import payment_scan
from storage import payments as payment_rows
from storage.db import Database
from storage.payment_scan import OpenQuote
from storage.timefmt import Clock, utc_clock

log = logging.getLogger(__name__)

BACKOFF_FIRST = 2.0  # seconds after the first failure of a streak
BACKOFF_CAP = 300.0
TRACE_RETRY = 3600.0  # seconds before asking a node without traces again


@dataclass(frozen=True, slots=True)
class Candidate:
    tx_hash: str
    payer: str  # lowercase: the linked wallet whose value reached the treasury
    block: ChainBlock


@dataclass(frozen=True, slots=True)
class ScanTurn:
    """What one turn did (for logs and tests)."""

    first_block: int
    last_block: int  # inclusive; < first_block: nothing new was confirmed
    settled: int  # candidates handed to Checkout that it accepted (part or whole)


class PaymentScanner:
    def __init__(
        self,
        db: Database,
        rpc: JsonRpcClient,
        checkout: Checkout,
        treasury: str,
        *,
        confirmations: int = 2,
        batch_blocks: int = 20,
        max_blocks: int = 200,
        use_call_traces: bool = True,
        clock: Clock = utc_clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.rpc = rpc
        self.checkout = checkout
        self.treasury = treasury.lower()
        self.confirmations = max(1, confirmations)
        self.batch_blocks = max(1, batch_blocks)
        self.max_blocks = max(self.batch_blocks, max_blocks)
        self.use_call_traces = use_call_traces
        self.clock = clock
        self.monotonic = monotonic
        # A payment mined just before its quote expired is confirmed a little later.
        self.expiry_grace = timedelta(seconds=BLOCK_SECONDS * self.confirmations + 60)
        self.failures = 0
        self._resume_at = 0.0
        self._traces_off_until = 0.0

    async def scan_once(self) -> ScanTurn | None:
        """One turn; None when there was nothing to do (no open quote, backing off) or
        it failed (then the next turns wait, doubling up to `BACKOFF_CAP`)."""
        if self.monotonic() < self._resume_at:
            return None
        try:
            turn = await self._scan()
        except Exception as exc:
            self._failed(exc)
            return None
        if self.failures:
            log.info("payment scan works again", extra={"failures": self.failures})
            self.failures = 0
        return turn

    @property
    def backoff(self) -> float:
        """Seconds the scanner waits after the current streak of failures."""
        if not self.failures:
            return 0.0
        return float(min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (self.failures - 1)))

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._resume_at = self.monotonic() + self.backoff
        if self.failures > 1:
            return  # said once per streak
        if isinstance(exc, ServiceUnavailable):
            log.warning("payment scan paused: %s", getattr(exc, "reason", exc))
        else:
            log.exception("payment scan failed")

    async def _scan(self) -> ScanTurn | None:
        quotes = await payment_scan.open_quotes(
            self.db, expiring_after=self.clock() - self.expiry_grace
        )
        if not quotes:
            return None
        latest = await chain_reads.block_number(self.rpc)
        tip = latest - self.confirmations + 1  # the newest block with its confirmations
        cursor = await payment_scan.next_block(self.db)
        oldest = min(q.created_block for q in quotes) + 1
        start = oldest if cursor is None or cursor > latest + 1 else max(cursor, oldest)
        end = min(tip, start + self.max_blocks - 1)
        settled = 0
        expected = cursor
        for first in range(start, end + 1, self.batch_blocks):
            last = min(end, first + self.batch_blocks - 1)
            blocks = await chain_reads.get_blocks(self.rpc, list(range(first, last + 1)))
            settled += await self._settle(await self._candidates(blocks, quotes), quotes)
            if not await payment_scan.advance(
                self.db, expected=expected, to=last + 1, now=self.clock()
            ):
                log.debug("another process moved the payment scan on")
                return ScanTurn(start, first - 1, settled)
            expected = last + 1
        return ScanTurn(start, end, settled)

    async def _candidates(
        self, blocks: list[ChainBlock], quotes: list[OpenQuote]
    ) -> list[Candidate]:
        wallets = {q.wallet for q in quotes}
        found: list[Candidate] = []
        traced: list[tuple[str, ChainBlock]] = []
        for block in blocks:
            for tx in block.transactions:
                if tx.to == self.treasury and tx.sender in wallets and tx.value > 0:
                    found.append(Candidate(tx.hash, tx.sender, block))
                elif tx.to is not None and (tx.to in ENTRY_POINTS or tx.to in wallets):
                    traced.append((tx.hash, block))
        if traced and self._traces_on():
            traces = await chain_reads.call_traces(self.rpc, [h for h, _ in traced])
            if traces is None:
                self._traces_off_until = self.monotonic() + TRACE_RETRY
                log.info("Base RPC has no call traces: smart wallet payments need a pasted hash")
            else:
                found.extend(self._internal(traced, traces, wallets))
        return sorted(found, key=lambda c: c.block.number)

    def _traces_on(self) -> bool:
        return self.use_call_traces and self.monotonic() >= self._traces_off_until

    def _internal(
        self,
        traced: list[tuple[str, ChainBlock]],
        traces: dict[str, dict[str, Any]],
        wallets: set[str],
    ) -> Iterable[Candidate]:
        for tx_hash, block in traced:
            for wallet in wallets:
                if chain_reads.value_transferred(traces[tx_hash], wallet, self.treasury):
                    yield Candidate(tx_hash, wallet, block)

    async def _settle(self, candidates: list[Candidate], quotes: list[OpenQuote]) -> int:
        settled = 0
        for candidate in candidates:
            if await self._claimed(candidate):
                continue  # pasted (or found) before: nothing to do
            # Newest order first: a user who ran /train again pays the quote they see.
            for quote in reversed(quotes):
                if not self._in_window(candidate, quote):
                    continue
                if await self._hand_over(candidate, quote):
                    settled += 1
                    break
        return settled

    def _in_window(self, candidate: Candidate, quote: OpenQuote) -> bool:
        # The verifier's own window: a block after the quote's, mined by its expiry.
        return (
            candidate.payer == quote.wallet
            and candidate.block.number > quote.created_block
            and candidate.block.timestamp <= quote.expires_at
        )

    async def _claimed(self, candidate: Candidate) -> bool:
        claims = await payment_rows.find_claims(self.db, candidate.tx_hash)
        return any(claim.payer == candidate.payer for claim in claims)

    async def _hand_over(self, candidate: Candidate, quote: OpenQuote) -> bool:
        """Settle the candidate as a pasted hash would be. True when it counted (a part
        or the whole); a refusal is logged and the next matching order is tried."""
        extra = {"order_id": quote.order_id, "tx_hash": candidate.tx_hash}
        try:
            settlement = await self.checkout.settle(
                quote.order_id, candidate.tx_hash, background=True
            )
        except PaymentAlreadyUsed:
            return True  # claimed by another road a moment ago
        except ServiceUnavailable:
            raise  # Base or the database: the scan backs off and reads the block again
        except UserFacingError as refused:
            log.info("payment found on Base was refused: %s", refused, extra=extra)
            return False
        log.info("payment found on Base", extra={**extra, "settlement": type(settlement).__name__})
        return True


__all__ = ["Candidate", "PaymentScanner", "ScanTurn"]
