"""The payment tests' setting: a feed, a quoter, a verifier and wallets on the shared
anvil node, with a clock on the chain's time line."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from eth_account import Account

from bot.clients.rpc import JsonRpcClient
from bot.services.credits import CreditLedger
from bot.services.payments.prices import PriceFeed, Quoter
from bot.services.payments.verifier import PaymentResult, PaymentVerified, PaymentVerifier
from storage.db import Database
from storage.payments import Quote
from tests.fakes.chain import DevChain
from tests.fakes.chain.payment_chain import (
    MockFeed,
    PaymentContracts,
    payment_contracts,
)

__all__ = [
    "OTHER_USER",
    "PRICE_USD",
    "USER",
    "Flow",
    "closed_port",
    "count",
    "flow",
    "payment_contracts",
]

USER = 4242
OTHER_USER = 5151
PRICE_USD = Decimal("4")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChainClock:
    """Wall time, moved forward to the chain's if anvil's blocks run ahead of it (anvil
    gives each block at least its parent's timestamp + 1 s, so a fast test session
    drifts). Quotes and block timestamps are then compared on one time line."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset + self.shift


@dataclass
class Flow:
    db: Database
    rpc: JsonRpcClient
    chain: DevChain
    clock: ChainClock
    quoter: Quoter
    verifier: PaymentVerifier
    credits: CreditLedger
    wallet: str
    stranger: str
    bundler: str
    treasury: str

    async def quote(self, *, user: int = USER, wallet: str | None = None) -> Quote:
        return await self.quoter.quote(wallet or self.wallet, user)

    async def pay(self, value: int, *, sender: str | None = None, to: str | None = None) -> str:
        receipt = await self.chain.send_transaction(
            to=to or self.treasury, value=value, sender=sender or self.wallet
        )
        return receipt.transaction_hash

    async def verify(
        self,
        quote: Quote,
        tx_hash: str,
        *,
        user: int = USER,
        wallet: str | None = None,
        verifier: PaymentVerifier | None = None,
    ) -> PaymentResult:
        return await (verifier or self.verifier).verify(
            quote.id, tx_hash, user, wallet or self.wallet
        )

    async def verified(self, quote: Quote, tx_hash: str, **kwargs: object) -> PaymentVerified:
        """Verify after the confirmations it needs."""
        await self.chain.mine(1)
        result = await self.verify(quote, tx_hash, **kwargs)  # type: ignore[arg-type]
        assert isinstance(result, PaymentVerified), result
        return result

    def verifier_with(self, **changes: object) -> PaymentVerifier:
        options: dict[str, object] = {
            "min_confirmations": self.verifier.min_confirmations,
            "clock": self.clock,
            **changes,
        }
        rpc = options.pop("rpc", self.rpc)
        return PaymentVerifier(self.db, rpc, self.treasury, **options)  # type: ignore[arg-type]


async def chain_clock(rpc: JsonRpcClient) -> ChainClock:
    latest = await rpc.call("eth_getBlockByNumber", ["latest", False])
    ahead = int(latest["timestamp"], 16) - time.time()
    return ChainClock(timedelta(seconds=max(0.0, ahead) + 1))


@pytest.fixture
async def flow(
    db: Database, rpc: JsonRpcClient, chain: DevChain, payment_contracts: PaymentContracts
) -> Flow:
    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
    clock = await chain_clock(rpc)
    accounts = await chain.accounts()
    treasury = Account.create().address
    return Flow(
        db=db,
        rpc=rpc,
        chain=chain,
        clock=clock,
        quoter=Quoter(db, PriceFeed(rpc, feed.address), PRICE_USD, clock=clock),
        verifier=PaymentVerifier(db, rpc, treasury, min_confirmations=2, clock=clock),
        credits=CreditLedger(db),
        wallet=accounts[5],
        stranger=accounts[6],
        bundler=accounts[7],
        treasury=treasury,
    )


async def count(db: Database, table: str) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])
