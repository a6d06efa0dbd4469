"""Signatures made by smart-contract wallets (ERC-1271), deployed or not yet (ERC-6492).

An ordinary key's signature is checked with ecrecover by the caller; this module is for
the address that is a contract, or will be one:

- **ERC-1271**: the wallet is deployed. Ask it: `isValidSignature(hash, signature)` must
  return the magic value 0x1626ba7e. A revert means no.
- **ERC-6492**: the signature ends with the 32-byte magic suffix 0x6492…6492 and wraps
  `abi.encode(factory, factoryCalldata, innerSignature)`. If the wallet exists, its inner
  signature is checked as ERC-1271 (as the ERC says). If not, one "deployless" `eth_call`
  runs `Erc6492Checker`'s creation code: it deploys the wallet through the factory and
  asks it, all inside the call, so nothing changes on chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from bot.clients.rpc import JsonRpcClient, RpcError
from bot.services.wallet.contracts.erc6492_checker import CREATION_CODE as ERC6492_CHECKER_CODE

log = logging.getLogger(__name__)

ERC1271_MAGIC_VALUE = bytes.fromhex("1626ba7e")  # also the selector of isValidSignature
ERC6492_MAGIC_SUFFIX = bytes.fromhex("6492" * 16)

ProofKind = Literal["erc1271", "erc6492"]
# "rejected": the wallet said no, or reverted. "not_a_contract": no code at the address
# and no ERC-6492 wrapper (an ordinary key's address: the caller's ecrecover decides).
Outcome = Literal["valid", "rejected", "not_a_contract", "malformed_erc6492"]


@dataclass(frozen=True, slots=True)
class ContractSignatureResult:
    valid: bool
    proof: ProofKind  # which standard decided (or would have)
    outcome: Outcome

    @property
    def not_a_contract(self) -> bool:
        return self.outcome == "not_a_contract"


@dataclass(frozen=True, slots=True)
class Erc6492Wrapper:
    factory: str
    factory_calldata: bytes
    signature: bytes


def personal_message_hash(text: str) -> bytes:
    """The EIP-191 `personal_sign` hash of `text`, which SIWE signatures sign."""
    message = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def unwrap_erc6492(signature: bytes) -> Erc6492Wrapper | None:
    """The parts of an ERC-6492 signature; None without the suffix.
    Raises ValueError when the suffix is there but the rest is not the ABI tuple."""
    if not signature.endswith(ERC6492_MAGIC_SUFFIX):
        return None
    try:
        factory, calldata, inner = decode(
            ["address", "bytes", "bytes"], signature[: -len(ERC6492_MAGIC_SUFFIX)]
        )
    except DecodingError as exc:
        raise ValueError(f"malformed ERC-6492 signature: {exc}") from exc
    return Erc6492Wrapper(to_checksum_address(factory), calldata, inner)


async def verify_contract_signature(
    rpc: JsonRpcClient, address: str, message_hash: bytes, signature: bytes
) -> ContractSignatureResult:
    """Whether the wallet at `address` signed `message_hash`.

    Raises `RpcUnavailable` when the node cannot be asked, `RpcError` when it answers
    with an error other than a revert, ValueError for a malformed address or hash.
    """
    if not is_address(address):
        raise ValueError(f"not an Ethereum address: {address!r}")
    signer = to_checksum_address(address)
    if len(message_hash) != 32:
        raise ValueError("message_hash must be 32 bytes")
    try:
        wrapper = unwrap_erc6492(signature)
    except ValueError:
        return ContractSignatureResult(False, "erc6492", "malformed_erc6492")

    deployed = await rpc.get_code(signer) != "0x"
    if wrapper is None:
        if not deployed:
            return ContractSignatureResult(False, "erc1271", "not_a_contract")
        return await _erc1271(rpc, signer, message_hash, signature)
    if deployed:
        return await _erc1271(rpc, signer, message_hash, wrapper.signature)
    return await _erc6492_deployless(rpc, signer, message_hash, wrapper)


async def _erc1271(
    rpc: JsonRpcClient, signer: str, message_hash: bytes, signature: bytes
) -> ContractSignatureResult:
    data = ERC1271_MAGIC_VALUE + encode(["bytes32", "bytes"], [message_hash, signature])
    try:
        answer = bytes.fromhex((await rpc.eth_call(signer, "0x" + data.hex()))[2:])
    except RpcError as exc:
        if not exc.is_revert:
            raise
        return ContractSignatureResult(False, "erc1271", "rejected")
    # As OpenZeppelin's SignatureChecker: the first word must be the magic value exactly.
    valid = len(answer) >= 32 and answer[:32] == ERC1271_MAGIC_VALUE.ljust(32, b"\0")
    return ContractSignatureResult(valid, "erc1271", "valid" if valid else "rejected")


async def _erc6492_deployless(
    rpc: JsonRpcClient, signer: str, message_hash: bytes, wrapper: Erc6492Wrapper
) -> ContractSignatureResult:
    arguments = encode(
        ["address", "bytes32", "address", "bytes", "bytes"],
        [signer, message_hash, wrapper.factory, wrapper.factory_calldata, wrapper.signature],
    )
    try:
        answer = await rpc.eth_call(None, "0x" + (ERC6492_CHECKER_CODE + arguments).hex())
    except RpcError as exc:
        if not exc.is_revert:
            raise
        return ContractSignatureResult(False, "erc6492", "rejected")
    if answer not in ("0x00", "0x01"):
        # The checker returns exactly one byte; anything else is the node's doing.
        log.warning("ERC-6492 check: unexpected eth_call result of %d bytes", len(answer) // 2 - 1)
    valid = answer == "0x01"
    return ContractSignatureResult(valid, "erc6492", "valid" if valid else "rejected")


__all__ = [
    "ERC1271_MAGIC_VALUE",
    "ERC6492_MAGIC_SUFFIX",
    "ContractSignatureResult",
    "Erc6492Wrapper",
    "personal_message_hash",
    "unwrap_erc6492",
    "verify_contract_signature",
]
