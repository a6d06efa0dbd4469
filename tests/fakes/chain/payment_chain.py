"""What payment tests put on a local anvil chain: a Chainlink-like ETH/USD feed placed at
an address (`anvil_setCode`) and set through its setters, a contract that refuses ETH,
and ERC-4337 stand-ins (an EntryPoint at its real address, a smart account).

    from tests.fakes.chain.payment_chain import payment_contracts  # noqa: F401 (fixture)

    feed = await MockFeed.place(chain, payment_contracts.feed, price=Decimal("3000"))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tests.fakes.chain.devchain import DevChain, calldata
from tests.fakes.chain.fixtures import require_node
from tests.fakes.chain.solc import CompiledContract, compile_files

CONTRACTS = Path(__file__).with_name("contracts")
# Runtime code that reverts whatever it is sent: PUSH1 0, PUSH1 0, REVERT.
REVERTING_CODE = bytes.fromhex("60006000fd")
ENTRY_POINT_V07 = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"


@dataclass(frozen=True)
class PaymentContracts:
    feed: CompiledContract
    entry_point: CompiledContract
    smart_account: CompiledContract


@pytest.fixture(scope="session")
def payment_contracts() -> PaymentContracts:
    require_node()
    compiled = compile_files([CONTRACTS / "MockEthUsdFeed.sol", CONTRACTS / "Erc4337Mocks.sol"])
    return PaymentContracts(
        compiled["MockEthUsdFeed"], compiled["MockEntryPoint"], compiled["MockSmartAccount"]
    )


def feed_answer(price: Decimal, decimals: int = 8) -> int:
    """A USD price as the feed's integer answer (8 decimals)."""
    return int(price.scaleb(decimals))


class MockFeed:
    """A MockEthUsdFeed at `address`, driven through its setters."""

    def __init__(self, chain: DevChain, address: str) -> None:
        self.chain = chain
        self.address = address
        self.round_id = 0

    @classmethod
    async def place(
        cls,
        chain: DevChain,
        contract: CompiledContract,
        address: str | None = None,
        *,
        description: str = "ETH / USD",
        decimals: int = 8,
        price: Decimal = Decimal("3000"),
        updated_at: datetime | None = None,
    ) -> MockFeed:
        """Put the feed's runtime code at `address` (a fresh one by default) and set it."""
        feed = cls(chain, address or Account.create().address)
        await chain.set_code(feed.address, contract.deployed_bytecode)
        await feed.set_description(description)
        await feed.set_decimals(decimals)
        await feed.set_answer(feed_answer(price, decimals), updated_at=updated_at)
        return feed

    async def set_description(self, text: str) -> None:
        await self._send(calldata("setDescription(string)", ["string"], [text]))

    async def set_decimals(self, decimals: int) -> None:
        await self._send(calldata("setDecimals(uint8)", ["uint8"], [decimals]))

    async def set_price(self, price: Decimal, *, updated_at: datetime | None = None) -> None:
        await self.set_answer(feed_answer(price), updated_at=updated_at)

    async def set_answer(self, answer: int, *, updated_at: datetime | None = None) -> None:
        """Raw answer (may be zero or negative); `updated_at` defaults to now."""
        self.round_id += 1
        moment = int((updated_at or datetime.now(UTC)).timestamp())
        await self._send(
            calldata(
                "setRoundData(uint80,int256,uint256,uint256,uint80)",
                ["uint80", "int256", "uint256", "uint256", "uint80"],
                [self.round_id, answer, moment, moment, self.round_id],
            )
        )

    async def _send(self, data: bytes) -> None:
        await self.chain.send_transaction(to=self.address, data=data)


async def send_unchecked(
    chain: DevChain, *, sender: str, to: str, value: int, data: bytes = b"", gas: int = 200_000
) -> str:
    """Send without anvil's gas estimate (which refuses a transaction that would revert),
    so a failing transaction is mined with status 0. Returns its hash."""
    tx = {"from": sender, "to": to, "value": hex(value), "data": "0x" + data.hex(), "gas": hex(gas)}
    tx_hash: str = await chain.rpc.call("eth_sendTransaction", [tx])
    return tx_hash


async def wait_for_receipt(chain: DevChain, tx_hash: str, timeout: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (receipt := await chain.rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
        assert loop.time() < deadline, f"no receipt for {tx_hash}"
        await asyncio.sleep(0.002)
    assert isinstance(receipt, dict)
    return receipt
