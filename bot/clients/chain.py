"""What payment checks read from Base: transactions, receipts, blocks and call traces,
parsed into small typed values.

A node that answers with an error object (`RpcError`) or with something that is not the
shape the JSON-RPC spec promises is treated as unavailable (`RpcUnavailable`: the user is
asked to retry), except for tracing, which many providers do not offer at all: there
`call_trace` answers None.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.clients.rpc import JsonRpcClient, RpcError, RpcUnavailable

log = logging.getLogger(__name__)

_TX_HASH = re.compile(r"0x[0-9a-f]{64}")
_BARE_HASH = re.compile(r"[0-9a-f]{64}")
# An explorer link (basescan.org/tx/0x…) pasted instead of the hash itself.
_EXPLORER_LINK = re.compile(r"https?://[^\s/]+(?:/[^\s/]+)*/tx/(0x[0-9a-f]{64})/?(?:[?#]\S*)?")
_QUANTITY = re.compile(r"0x[0-9a-f]+")
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_HASH = re.compile(r"0x[0-9a-f]{64}")


def normalise_tx_hash(raw: str) -> str | None:
    """`0x` + 64 lowercase hex digits, from what a user pasted (any case, spaces around,
    without `0x`, or an explorer link); None when it is not a transaction hash."""
    text = raw.strip().lower()
    if _TX_HASH.fullmatch(text):
        return text
    if _BARE_HASH.fullmatch(text):
        return "0x" + text
    link = _EXPLORER_LINK.fullmatch(text)
    return link.group(1) if link else None


@dataclass(frozen=True, slots=True)
class ChainTransaction:
    hash: str
    sender: str  # lowercase
    to: str | None  # lowercase; None for a contract creation
    value: int  # wei
    block_number: int | None  # None while pending


@dataclass(frozen=True, slots=True)
class ChainReceipt:
    succeeded: bool
    block_number: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: str
    timestamp: datetime


def _malformed(method: str, what: str) -> RpcUnavailable:
    log.warning("Base RPC %s: malformed result (%s)", method, what)
    return RpcUnavailable(f"{method}: malformed result ({what})")


def _field(method: str, obj: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value.lower()):
        raise _malformed(method, key)
    return value.lower()


def _quantity(method: str, obj: dict[str, Any], key: str) -> int:
    return int(_field(method, obj, key, _QUANTITY), 16)


async def _call(rpc: JsonRpcClient, method: str, params: list[Any]) -> Any:
    try:
        return await rpc.call(method, params)
    except RpcError as exc:
        log.warning("Base RPC %s answered an error: %s", method, exc)
        raise RpcUnavailable(f"{method}: {exc}") from None


async def block_number(rpc: JsonRpcClient) -> int:
    result = await _call(rpc, "eth_blockNumber", [])
    return _quantity("eth_blockNumber", {"n": result}, "n")


async def chain_id(rpc: JsonRpcClient) -> int:
    result = await _call(rpc, "eth_chainId", [])
    return _quantity("eth_chainId", {"id": result}, "id")


async def get_transaction(rpc: JsonRpcClient, tx_hash: str) -> ChainTransaction | None:
    method = "eth_getTransactionByHash"
    raw = await _call(rpc, method, [tx_hash])
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _malformed(method, "not an object")
    if _field(method, raw, "hash", _HASH) != tx_hash:
        raise _malformed(method, "another transaction's hash")
    to = raw.get("to")
    number = raw.get("blockNumber")
    return ChainTransaction(
        hash=tx_hash,
        sender=_field(method, raw, "from", _ADDRESS),
        to=None if to is None else _field(method, raw, "to", _ADDRESS),
        value=_quantity(method, raw, "value"),
        block_number=None if number is None else _quantity(method, raw, "blockNumber"),
    )


async def get_receipt(rpc: JsonRpcClient, tx_hash: str) -> ChainReceipt | None:
    method = "eth_getTransactionReceipt"
    raw = await _call(rpc, method, [tx_hash])
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _malformed(method, "not an object")
    if raw.get("blockNumber") is None:  # some nodes answer a pending receipt
        return None
    return ChainReceipt(
        succeeded=_quantity(method, raw, "status") == 1,
        block_number=_quantity(method, raw, "blockNumber"),
        block_hash=_field(method, raw, "blockHash", _HASH),
    )


async def get_block(rpc: JsonRpcClient, number: int) -> BlockHeader | None:
    method = "eth_getBlockByNumber"
    raw = await _call(rpc, method, [hex(number), False])
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _malformed(method, "not an object")
    return BlockHeader(
        number=_quantity(method, raw, "number"),
        hash=_field(method, raw, "hash", _HASH),
        timestamp=datetime.fromtimestamp(_quantity(method, raw, "timestamp"), UTC),
    )


async def call_trace(rpc: JsonRpcClient, tx_hash: str) -> dict[str, Any] | None:
    """The transaction's call tree (geth's `callTracer`), or None when the node does
    not offer `debug_traceTransaction` (most public Base endpoints do not)."""
    try:
        trace = await rpc.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
    except RpcError as exc:
        log.info("Base RPC cannot trace transactions: %s", exc)
        return None
    if not isinstance(trace, dict):
        raise _malformed("debug_traceTransaction", "not an object")
    return trace


@dataclass(frozen=True, slots=True)
class ChainBlock:
    """A block with its transactions (what a payment scan reads)."""

    number: int
    hash: str
    timestamp: datetime
    transactions: tuple[ChainTransaction, ...]


def _transaction(method: str, raw: Any, number: int) -> ChainTransaction:
    if not isinstance(raw, dict):
        raise _malformed(method, "a transaction is not an object")
    to = raw.get("to")
    return ChainTransaction(
        hash=_field(method, raw, "hash", _HASH),
        sender=_field(method, raw, "from", _ADDRESS),
        to=None if to is None else _field(method, raw, "to", _ADDRESS),
        value=_quantity(method, raw, "value"),
        block_number=number,
    )


async def get_blocks(rpc: JsonRpcClient, numbers: list[int]) -> list[ChainBlock]:
    """The blocks `numbers` with full transactions, in one batch request. A block the
    node does not have (yet) or an error answer makes the node unavailable for this
    batch: the scan asks again from the same block later."""
    method = "eth_getBlockByNumber"
    answers = await rpc.batch([(method, [hex(n), True]) for n in numbers])
    blocks: list[ChainBlock] = []
    for n, raw in zip(numbers, answers, strict=True):
        if isinstance(raw, RpcError):
            log.warning("Base RPC %s answered an error: %s", method, raw)
            raise RpcUnavailable(f"{method}: {raw}")
        if not isinstance(raw, dict):
            raise _malformed(method, f"block {n} missing")
        if _quantity(method, raw, "number") != n:
            raise _malformed(method, "another block's number")
        txs = raw.get("transactions")
        if not isinstance(txs, list):
            raise _malformed(method, "transactions")
        blocks.append(
            ChainBlock(
                number=n,
                hash=_field(method, raw, "hash", _HASH),
                timestamp=datetime.fromtimestamp(_quantity(method, raw, "timestamp"), UTC),
                transactions=tuple(_transaction(method, tx, n) for tx in txs),
            )
        )
    return blocks


async def call_traces(rpc: JsonRpcClient, tx_hashes: list[str]) -> dict[str, dict[str, Any]] | None:
    """Each transaction's call tree (`callTracer`), in one batch request; None when the
    node does not trace (it answers an error object, as most public Base endpoints do)."""
    method = "debug_traceTransaction"
    answers = await rpc.batch([(method, [h, {"tracer": "callTracer"}]) for h in tx_hashes])
    traces: dict[str, dict[str, Any]] = {}
    for tx_hash, raw in zip(tx_hashes, answers, strict=True):
        if isinstance(raw, RpcError):
            log.info("Base RPC cannot trace transactions: %s", raw)
            return None
        if not isinstance(raw, dict):
            raise _malformed(method, "not an object")
        traces[tx_hash] = raw
    return traces


def value_transferred(trace: dict[str, Any], payer: str, recipient: str) -> int:
    """Wei that `payer` sent to `recipient` by CALLs that took effect: a call counts only
    if neither it nor any call around it failed (a reverted frame undoes its children)."""
    payer, recipient = payer.lower(), recipient.lower()
    total = 0
    frames: list[tuple[Any, bool]] = [(trace, False)]
    while frames:
        frame, undone = frames.pop()
        if not isinstance(frame, dict):
            raise _malformed("debug_traceTransaction", "a call frame is not an object")
        undone = undone or bool(frame.get("error"))
        if (
            not undone
            and frame.get("type") == "CALL"
            and str(frame.get("from", "")).lower() == payer
            and str(frame.get("to", "")).lower() == recipient
        ):
            value = frame.get("value", "0x0")
            if not isinstance(value, str) or not _QUANTITY.fullmatch(value.lower()):
                raise _malformed("debug_traceTransaction", "value")
            total += int(value, 16)
        children = frame.get("calls") or []
        if not isinstance(children, list):
            raise _malformed("debug_traceTransaction", "calls")
        frames.extend((child, undone) for child in children)
    return total


__all__ = [
    "BlockHeader",
    "ChainBlock",
    "ChainReceipt",
    "ChainTransaction",
    "block_number",
    "call_trace",
    "call_traces",
    "chain_id",
    "get_block",
    "get_blocks",
    "get_receipt",
    "get_transaction",
    "normalise_tx_hash",
    "value_transferred",
]
