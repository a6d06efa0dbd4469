"""What tests do to a local anvil chain beyond reading it: send transactions from its
prefunded (unlocked) accounts, deploy contracts, place code, mine. Built on the bot's own
`JsonRpcClient`, so it runs on the test's event loop.

Anvil mines each transaction as it arrives (its receipt can trail the hash by a moment).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from bot.clients.rpc import JsonRpcClient
from tests.fakes.chain.solc import CompiledContract


class TransactionFailed(AssertionError):
    pass


@dataclass(frozen=True)
class Receipt:
    transaction_hash: str
    contract_address: str | None
    raw: dict[str, Any]


def calldata(signature: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> bytes:
    """`calldata("deploy(address,bytes32)", ["address", "bytes32"], [owner, salt])`."""
    return function_signature_to_4byte_selector(signature) + encode(list(types), list(args))


class DevChain:
    def __init__(self, rpc: JsonRpcClient) -> None:
        self.rpc = rpc
        self._accounts: list[str] = []

    async def accounts(self) -> list[str]:
        """Anvil's prefunded, unlocked accounts."""
        if not self._accounts:
            self._accounts = [
                to_checksum_address(a) for a in await self.rpc.call("eth_accounts", [])
            ]
        return self._accounts

    async def send_transaction(
        self,
        *,
        to: str | None,
        data: bytes = b"",
        value: int = 0,
        sender: str | None = None,
    ) -> Receipt:
        """Send from an unlocked account (the first by default); fails on a revert."""
        sender = sender or (await self.accounts())[0]
        tx: dict[str, str] = {"from": sender, "data": "0x" + data.hex(), "value": hex(value)}
        if to is not None:
            tx["to"] = to
        tx_hash = await self.rpc.call("eth_sendTransaction", [tx])
        raw = await self._receipt(tx_hash)
        if raw["status"] != "0x1":
            raise TransactionFailed(f"transaction {tx_hash} reverted")
        address = raw.get("contractAddress")
        return Receipt(tx_hash, to_checksum_address(address) if address else None, raw)

    async def _receipt(self, tx_hash: str, timeout: float = 5.0) -> dict[str, Any]:
        # Anvil mines right away, but the receipt can trail the hash by a moment.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (raw := await self.rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
            if loop.time() > deadline:
                raise TransactionFailed(f"no receipt for {tx_hash} after {timeout} s")
            await asyncio.sleep(0.002)
        assert isinstance(raw, dict)
        return raw

    async def deploy(
        self,
        contract: CompiledContract,
        constructor_types: Sequence[str] = (),
        constructor_args: Sequence[Any] = (),
    ) -> str:
        """Deploy `contract`; returns its address."""
        data = contract.bytecode + encode(list(constructor_types), list(constructor_args))
        receipt = await self.send_transaction(to=None, data=data)
        assert receipt.contract_address is not None
        return receipt.contract_address

    async def call(
        self, to: str, signature: str, types: Sequence[str], args: Sequence[Any], returns: str
    ) -> Any:
        """Read one value: `await chain.call(f, "walletAddress(address,bytes32)", …, "address")`."""
        answer = await self.rpc.eth_call(to, "0x" + calldata(signature, types, args).hex())
        return decode([returns], bytes.fromhex(answer[2:]))[0]

    async def set_code(self, address: str, code: bytes) -> None:
        await self.rpc.call("anvil_setCode", [address, "0x" + code.hex()])

    async def code(self, address: str) -> bytes:
        return bytes.fromhex((await self.rpc.get_code(address))[2:])

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc.call("anvil_mine", [hex(blocks)])

    async def block_number(self) -> int:
        return int(await self.rpc.call("eth_blockNumber", []), 16)
