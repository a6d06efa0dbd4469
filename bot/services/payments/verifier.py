"""`PaymentVerifier`: is this Base transaction a payment for this quote? If so, record it
once and turn it into a training credit.

`verify()` returns `PaymentVerified`, or `PaymentPending` (not mined yet, or not enough
confirmations: the caller waits `retry_after` seconds and asks again), or
`PaymentPartial` (a verified transaction that pays part of the quote: recorded, and a
second transaction from the same wallet before the quote expires tops it up; the
claim that reaches the quote buys the credit), or raises a `PaymentRefused` subclass
saying why not (see `bot.services.payments.refusals`).

The checks, in order (cheap and final ones first, so a wrong payment is refused even
before it is mined):

1. the hash is a transaction hash; the quote exists and is this user's, for this wallet;
   this (transaction, wallet) was not claimed before;
2. the node is Base (`eth_chainId`);
3. the transaction exists; a direct payment is from the linked wallet (case-insensitive),
   to the treasury, with a value (less than the quote is a part, see 7);
4. it is mined with status 1; a smart wallet's payment (an ERC-4337 bundle through the
   EntryPoint, or any call that pays the treasury from the wallet) is read from the
   node's call trace, where it has one (`debug_traceTransaction`); without one such a
   payment is refused with a clear message;
5. it was mined in a block after the quote's block, and that block's timestamp is not
   after the quote's expiry;
6. it has `min_confirmations` (latest - block + 1) and its block is still canonical;
7. the claim: one INSERT keyed on (tx_hash, payer) with the credit in the same
   transaction, so concurrent claims of one payment give exactly one credit. The credit
   is written once the quote's unspent parts from this wallet (this one included) reach
   the quoted wei (`storage.payments.claim_toward`); a payment of at least the quote
   alone is accepted whatever its excess, as it always was.

Asking again about a transaction already counted as a part of this quote answers the
same `PaymentPartial` (idempotent); any other repeat is `PaymentAlreadyUsed`.

**Expiry, decided**: a quote is a promise of the price until `expires_at`. What matters is
when the payment was *mined* (its block's timestamp), not when the bot is asked: a user
who paid in time and pressed Check an hour later (or whose check was interrupted by a
restart) still gets the credit. A payment mined after expiry is refused (the price may
have moved; an admin can credit it), as is an expired quote with no mined payment.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.clients import chain as chain_reads
from bot.clients.chain import ChainReceipt, ChainTransaction
from bot.clients.rpc import JsonRpcClient
from bot.errors import Moment, Part, render
from bot.services.payments.prices import format_eth, readable_wei
from bot.services.payments.refusals import (
    InvalidTransactionHash,
    NothingPaidFromWallet,
    PaidBeforeQuote,
    PaymentAfterExpiry,
    PaymentAlreadyUsed,
    QuoteExpired,
    QuoteNotFound,
    QuoteWalletChanged,
    SmartWalletPaymentUnsupported,
    TransactionFailed,
    TransactionNotFound,
    Underpaid,
    WrongChain,
    WrongRecipient,
    WrongSender,
    short_address,
)
from storage import payments as store
from storage.credits import AVAILABLE, FROM_PAYMENT, Credit
from storage.db import Database
from storage.payments import NewPayment, Quote
from storage.timefmt import Clock, iso, stored, utc_clock

log = logging.getLogger(__name__)

BASE_CHAIN_ID = 8453
BLOCK_SECONDS = 2.0  # Base's block time
# ERC-4337 EntryPoint contracts (same address on every chain), lowercase.
ENTRY_POINTS = {
    "0x0000000071727de22e5e9d8baf0edac6f37da032": "v0.7",
    "0x5ff137d4b0fdcd49dca30c7cf57e578a026d2789": "v0.6",
}


@dataclass(frozen=True, slots=True)
class PaymentVerified:
    payment_id: str
    credit: Credit
    tx_hash: str
    value_wei: int
    block_number: int
    kind: Literal["transfer", "internal"]  # plain transfer, or a smart wallet's call
    total_wei: int | None = None  # with the earlier parts it tops up (None: it alone)

    @property
    def message(self) -> str:
        received = format_eth(self.total_wei or self.value_wei)
        return f"Payment verified: {received} received. You have a training credit."


@dataclass(frozen=True, slots=True)
class PaymentPending:
    tx_hash: str
    reason: Literal["not_mined", "confirmations"]
    confirmations: int
    needed: int
    retry_after: float  # seconds until asking again is worth it

    @property
    def message(self) -> str:
        if self.reason == "not_mined":
            return "Your payment is still pending: it isn't in a block yet. Checking again shortly."
        return (
            f"Payment found: waiting for {self.needed} confirmations "
            f"({self.confirmations} so far). Checking again shortly."
        )


@dataclass(frozen=True, slots=True)
class PaymentPartial:
    """A verified transaction that paid part of the quote (recorded; it counts)."""

    tx_hash: str
    value_wei: int  # what this transaction paid
    total_wei: int  # what the quote's unspent parts add up to, this one included
    needed_wei: int  # the quote
    expires_at: datetime
    wallet: str
    treasury: str

    @property
    def missing_wei(self) -> int:
        """What is still to send, rounded up to the decimals a quote shows."""
        return readable_wei(self.needed_wei - self.total_wei)

    @property
    def parts(self) -> tuple[Part, ...]:
        return (
            f"Received {format_eth(self.total_wei)} of the {format_eth(self.needed_wei)} "
            f"this training costs. Still missing: {format_eth(self.missing_wei)}. Send "
            f"at least that from your linked wallet {short_address(self.wallet)} to "
            f"{self.treasury} on Base before the price expires (",
            Moment(self.expires_at, "relative"),
            "), then report that transaction the same way: both payments count.",
        )

    @property
    def message(self) -> str:
        return render(self.parts)


PaymentResult = PaymentVerified | PaymentPending | PaymentPartial


@dataclass(frozen=True, slots=True)
class _Paid:
    """What the transaction paid the treasury, and from whom."""

    value: int
    kind: Literal["transfer", "internal"]


class PaymentVerifier:
    def __init__(
        self,
        db: Database,
        rpc: JsonRpcClient,
        treasury: str,
        *,
        min_confirmations: int = 2,
        chain_id: int = BASE_CHAIN_ID,
        use_call_traces: bool = True,
        clock: Clock = utc_clock,
    ) -> None:
        if min_confirmations < 1:
            raise ValueError("min_confirmations must be at least 1")
        self.db = db
        self.rpc = rpc
        self.treasury = treasury
        self.min_confirmations = min_confirmations
        self.chain_id = chain_id
        self.use_call_traces = use_call_traces
        self.clock = clock

    async def verify(
        self, quote_id: str, tx_hash: str, discord_user_id: int, wallet: str
    ) -> PaymentResult:
        """Check `tx_hash` as the payment for `quote_id` by this user from `wallet` (their
        linked wallet). Raises a `PaymentRefused` subclass, or `RpcUnavailable` /
        `DatabaseError` when Base or the database cannot be asked."""
        normalised = chain_reads.normalise_tx_hash(tx_hash)
        if normalised is None:
            raise InvalidTransactionHash()
        tx_hash, payer = normalised, wallet.lower()
        quote = await store.get_quote(self.db, quote_id)
        if quote is None or quote.discord_user_id != discord_user_id:
            raise QuoteNotFound()
        if quote.wallet.lower() != payer:
            raise QuoteWalletChanged(quote.wallet, wallet)
        repeat = await self._refuse_if_claimed(tx_hash, payer, quote)
        if repeat is not None:
            return repeat

        actual_chain = await chain_reads.chain_id(self.rpc)
        if actual_chain != self.chain_id:
            log.error("BASE_RPC_URL is on chain %s, not %s", actual_chain, self.chain_id)
            raise WrongChain(actual_chain, self.chain_id)

        tx = await chain_reads.get_transaction(self.rpc, tx_hash)
        expired = self.clock() > quote.expires_at
        if tx is None:
            raise QuoteExpired(quote.expires_at) if expired else TransactionNotFound()
        direct = self._check_direct(tx, payer, quote)
        receipt = await chain_reads.get_receipt(self.rpc, tx_hash)
        if receipt is None:
            if expired:
                raise QuoteExpired(quote.expires_at, pending=True)
            return PaymentPending(tx_hash, "not_mined", 0, self.min_confirmations, BLOCK_SECONDS)
        if not receipt.succeeded:
            raise TransactionFailed()
        paid = direct or await self._internal_payment(tx, payer, quote)

        pending = await self._check_block(tx_hash, receipt, quote)
        if pending is not None:
            return pending
        return await self._claim(tx_hash, payer, receipt, paid, quote, wallet)

    async def _refuse_if_claimed(
        self, tx_hash: str, payer: str, quote: Quote
    ) -> PaymentPartial | None:
        """Refuse a (transaction, payer) claimed before, except an unspent part of this
        very quote: asked about again, it answers what is still missing."""
        for claim in await store.find_claims(self.db, tx_hash):
            if claim.payer != payer:
                continue
            if claim.quote_id == quote.id and claim.credit_id is None:
                total = await store.open_parts(self.db, quote.id, payer)
                return self._partial(tx_hash, claim.value_wei, total, quote)
            raise PaymentAlreadyUsed(by_you=claim.discord_user_id == quote.discord_user_id)
        return None

    def _partial(self, tx_hash: str, value: int, total: int, quote: Quote) -> PaymentPartial:
        return PaymentPartial(
            tx_hash, value, total, quote.wei, quote.expires_at, quote.wallet, self.treasury
        )

    def _check_direct(self, tx: ChainTransaction, payer: str, quote: Quote) -> _Paid | None:
        """A plain payment, checked from the transaction alone (mined or not). None when
        the transaction is not addressed to the treasury and may pay it from a smart
        wallet instead (decided from the trace once mined)."""
        if tx.to == self.treasury.lower():
            if tx.sender != payer:
                raise WrongSender(tx.sender, quote.wallet)
            if tx.value == 0:
                raise Underpaid(0, quote.wei)
            return _Paid(tx.value, "transfer")
        if tx.to in ENTRY_POINTS or self.use_call_traces:
            # A smart wallet pays from inside a call: an ERC-4337 bundle, its owner's
            # call, an EIP-7702 account's batch. Only the trace of the mined transaction
            # shows it.
            return None
        raise WrongRecipient(tx.to, self.treasury)

    async def _internal_payment(self, tx: ChainTransaction, payer: str, quote: Quote) -> _Paid:
        """Value the smart wallet `payer` sent the treasury inside the mined transaction."""
        via_entry_point = tx.to in ENTRY_POINTS
        trace = await chain_reads.call_trace(self.rpc, tx.hash) if self.use_call_traces else None
        if trace is None:
            if via_entry_point:
                raise SmartWalletPaymentUnsupported()
            raise WrongRecipient(tx.to, self.treasury)
        value = chain_reads.value_transferred(trace, payer, self.treasury)
        if value == 0:
            if via_entry_point:
                raise NothingPaidFromWallet(quote.wallet, self.treasury)
            raise WrongRecipient(tx.to, self.treasury)
        return _Paid(value, "internal")

    async def _check_block(
        self, tx_hash: str, receipt: ChainReceipt, quote: Quote
    ) -> PaymentPending | None:
        if receipt.block_number <= quote.created_block:
            raise PaidBeforeQuote(receipt.block_number, quote.created_block)
        header = await chain_reads.get_block(self.rpc, receipt.block_number)
        if header is None or header.hash != receipt.block_hash:
            # The block holding it was just replaced (a reorg): ask again in a moment.
            return PaymentPending(tx_hash, "not_mined", 0, self.min_confirmations, BLOCK_SECONDS)
        if header.timestamp > quote.expires_at:
            raise PaymentAfterExpiry(header.timestamp, quote.expires_at)
        latest = await chain_reads.block_number(self.rpc)
        confirmations = max(0, latest - receipt.block_number + 1)
        if confirmations < self.min_confirmations:
            missing = self.min_confirmations - confirmations
            return PaymentPending(
                tx_hash,
                "confirmations",
                confirmations,
                self.min_confirmations,
                BLOCK_SECONDS * missing,
            )
        return None

    async def _claim(
        self,
        tx_hash: str,
        payer: str,
        receipt: ChainReceipt,
        paid: _Paid,
        quote: Quote,
        wallet: str,
    ) -> PaymentVerified | PaymentPartial:
        now = stored(self.clock())
        payment = NewPayment(
            id=secrets.token_hex(16),
            tx_hash=tx_hash,
            payer=payer,
            quote_id=quote.id,
            discord_user_id=quote.discord_user_id,
            wallet=wallet,
            value_wei=paid.value,
            kind=paid.kind,
            chain_id=self.chain_id,
            block_number=receipt.block_number,
            block_hash=receipt.block_hash,
        )
        credit = Credit(
            id=secrets.token_hex(16),
            discord_user_id=quote.discord_user_id,
            wallet=wallet,
            source=FROM_PAYMENT,
            payment_id=payment.id,
            status=AVAILABLE,
            created_at=now,
        )
        claimed = await store.claim_toward(
            self.db, payment, credit, needed_wei=quote.wei, now=iso(now)
        )
        if claimed is None:
            # Another check of the same payment won the race a moment ago.
            repeat = await self._refuse_if_claimed(tx_hash, payer, quote)
            if repeat is not None:
                return repeat
            raise PaymentAlreadyUsed(by_you=False)
        if claimed.credit is None:
            log.info(
                "part of a payment verified",
                extra={"payment_id": payment.id, "tx_hash": tx_hash, "quote_id": quote.id},
            )
            return self._partial(tx_hash, paid.value, claimed.total_wei, quote)
        log.info(
            "payment verified",
            extra={"payment_id": payment.id, "credit_id": credit.id, "tx_hash": tx_hash},
        )
        return PaymentVerified(
            payment.id,
            credit,
            tx_hash,
            paid.value,
            receipt.block_number,
            paid.kind,
            claimed.total_wei if claimed.total_wei != paid.value else None,
        )


__all__ = [
    "ENTRY_POINTS",
    "PaymentPartial",
    "PaymentPending",
    "PaymentResult",
    "PaymentVerified",
    "PaymentVerifier",
]
