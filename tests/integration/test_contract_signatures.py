"""Smart-wallet signatures (ERC-1271, ERC-6492) checked against a real node (anvil)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from bot.clients.rpc import JsonRpcClient, RpcUnavailable
from bot.services.wallet.signatures import (
    ERC6492_MAGIC_SUFFIX,
    personal_message_hash,
    unwrap_erc6492,
    verify_contract_signature,
)
from tests.fakes.chain import DevChain, ScriptedRpcServer, calldata
from tests.fakes.chain.fixtures import WalletContracts

OWNER = Account.from_key(keccak(b"wallet owner"))
STRANGER = Account.from_key(keccak(b"someone else"))


def siwe_text(address: str, nonce: str = "k3Xq9Lm2") -> str:
    return (
        "bot.example.org wants you to sign in with your Ethereum account:\n"
        f"{address}\n\n"
        "Link this wallet to your Discord account.\n\n"
        "URI: https://bot.example.org/link\n"
        "Version: 1\n"
        "Chain ID: 8453\n"
        f"Nonce: {nonce}\n"
        "Issued At: 2026-01-02T03:04:05Z"
    )


def personal_sign(account: LocalAccount, text: str) -> bytes:
    return bytes(account.sign_message(encode_defunct(text=text)).signature)


def wrap_erc6492(factory: str, factory_calldata: bytes, signature: bytes) -> bytes:
    return (
        encode(["address", "bytes", "bytes"], [factory, factory_calldata, signature])
        + ERC6492_MAGIC_SUFFIX
    )


@dataclass
class Wallets:
    """A factory on the chain, and what it takes to make (or predict) a wallet."""

    chain: DevChain
    factory: str

    async def address_of(self, owner: str, salt: bytes) -> str:
        return str(
            await self.chain.call(
                self.factory,
                "walletAddress(address,bytes32)",
                ["address", "bytes32"],
                [owner, salt],
                "address",
            )
        )

    @staticmethod
    def deploy_calldata(owner: str, salt: bytes) -> bytes:
        return calldata("deploy(address,bytes32)", ["address", "bytes32"], [owner, salt])

    async def deploy(self, owner: str, salt: bytes) -> str:
        await self.chain.send_transaction(to=self.factory, data=self.deploy_calldata(owner, salt))
        address = await self.address_of(owner, salt)
        assert await self.chain.code(address) != b""
        return address


@pytest.fixture
async def wallets(chain: DevChain, wallet_contracts: WalletContracts) -> Wallets:
    return Wallets(chain, await chain.deploy(wallet_contracts.wallet_factory))


SALT = keccak(b"salt")


def test_personal_message_hash_is_eip191() -> None:
    text = siwe_text(OWNER.address)
    signed = OWNER.sign_message(encode_defunct(text=text))
    assert personal_message_hash(text) == bytes(signed.message_hash)
    assert personal_message_hash("héllo") == keccak(b"\x19Ethereum Signed Message:\n6h\xc3\xa9llo")


# --- ERC-1271: deployed wallets ---------------------------------------------------------
async def test_deployed_wallet_accepts_its_owners_signature(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.deploy(OWNER.address, SALT)
    text = siwe_text(wallet)

    result = await verify_contract_signature(
        rpc, wallet, personal_message_hash(text), personal_sign(OWNER, text)
    )

    assert (result.valid, result.proof, result.outcome) == (True, "erc1271", "valid")


async def test_deployed_wallet_rejects_another_keys_signature(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.deploy(OWNER.address, SALT)
    text = siwe_text(wallet)

    result = await verify_contract_signature(
        rpc, wallet, personal_message_hash(text), personal_sign(STRANGER, text)
    )

    assert (result.valid, result.proof, result.outcome) == (False, "erc1271", "rejected")


async def test_deployed_wallet_rejects_a_signature_of_another_message(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.deploy(OWNER.address, SALT)
    signature = personal_sign(OWNER, siwe_text(wallet, nonce="older000"))

    result = await verify_contract_signature(
        rpc, wallet, personal_message_hash(siwe_text(wallet)), signature
    )

    assert not result.valid


async def test_a_contract_without_isvalidsignature_reverts_and_is_rejected(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    text = siwe_text(wallets.factory)

    result = await verify_contract_signature(
        rpc, wallets.factory, personal_message_hash(text), personal_sign(OWNER, text)
    )

    assert (result.valid, result.proof, result.outcome) == (False, "erc1271", "rejected")


async def test_wallet_code_placed_with_set_code_is_asked_too(
    rpc: JsonRpcClient, chain: DevChain, wallets: Wallets
) -> None:
    deployed = await wallets.deploy(OWNER.address, SALT)
    elsewhere = Account.create().address
    await chain.set_code(elsewhere, await chain.code(deployed))  # owner is in the runtime code
    text = siwe_text(elsewhere)

    result = await verify_contract_signature(
        rpc, elsewhere, personal_message_hash(text), personal_sign(OWNER, text)
    )

    assert result.valid


# --- no contract -------------------------------------------------------------------------
async def test_an_address_without_code_or_wrapper_is_not_a_contract(rpc: JsonRpcClient) -> None:
    text = siwe_text(OWNER.address)

    result = await verify_contract_signature(
        rpc, OWNER.address, personal_message_hash(text), personal_sign(OWNER, text)
    )

    assert not result.valid
    assert result.not_a_contract
    assert result.outcome == "not_a_contract"


# --- ERC-6492: wallets not deployed yet ------------------------------------------------
async def test_undeployed_wallet_with_erc6492_signature_is_valid_and_stays_undeployed(
    rpc: JsonRpcClient, chain: DevChain, wallets: Wallets
) -> None:
    wallet = await wallets.address_of(OWNER.address, SALT)
    text = siwe_text(wallet)
    signature = wrap_erc6492(
        wallets.factory, wallets.deploy_calldata(OWNER.address, SALT), personal_sign(OWNER, text)
    )
    block = await chain.block_number()

    result = await verify_contract_signature(rpc, wallet, personal_message_hash(text), signature)

    assert (result.valid, result.proof, result.outcome) == (True, "erc6492", "valid")
    assert await chain.code(wallet) == b"", "an eth_call must leave nothing on chain"
    assert await chain.block_number() == block


async def test_undeployed_wallet_with_erc6492_signature_by_another_key_is_invalid(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.address_of(OWNER.address, SALT)
    text = siwe_text(wallet)
    signature = wrap_erc6492(
        wallets.factory,
        wallets.deploy_calldata(OWNER.address, SALT),
        personal_sign(STRANGER, text),
    )

    result = await verify_contract_signature(rpc, wallet, personal_message_hash(text), signature)

    assert (result.valid, result.proof, result.outcome) == (False, "erc6492", "rejected")


async def test_erc6492_factory_call_that_deploys_another_wallet_is_invalid(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    # The stranger wraps a deployment of their own wallet and claims the owner's address.
    wallet = await wallets.address_of(OWNER.address, SALT)
    text = siwe_text(wallet)
    signature = wrap_erc6492(
        wallets.factory,
        wallets.deploy_calldata(STRANGER.address, SALT),
        personal_sign(STRANGER, text),
    )

    result = await verify_contract_signature(rpc, wallet, personal_message_hash(text), signature)

    assert not result.valid


async def test_erc6492_with_a_failing_factory_call_is_invalid(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.address_of(OWNER.address, SALT)
    text = siwe_text(wallet)
    signature = wrap_erc6492(wallets.factory, b"\xde\xad\xbe\xef", personal_sign(OWNER, text))

    result = await verify_contract_signature(rpc, wallet, personal_message_hash(text), signature)

    assert (result.valid, result.proof) == (False, "erc6492")


async def test_erc6492_signature_for_a_deployed_wallet_is_checked_with_erc1271(
    rpc: JsonRpcClient, wallets: Wallets
) -> None:
    wallet = await wallets.deploy(OWNER.address, SALT)
    text = siwe_text(wallet)
    good = wrap_erc6492(
        wallets.factory, wallets.deploy_calldata(OWNER.address, SALT), personal_sign(OWNER, text)
    )
    bad = wrap_erc6492(
        wallets.factory,
        wallets.deploy_calldata(OWNER.address, SALT),
        personal_sign(STRANGER, text),
    )

    accepted = await verify_contract_signature(rpc, wallet, personal_message_hash(text), good)
    refused = await verify_contract_signature(rpc, wallet, personal_message_hash(text), bad)

    assert (accepted.valid, accepted.proof) == (True, "erc1271")
    assert (refused.valid, refused.proof) == (False, "erc1271")


async def test_malformed_erc6492_wrapper_is_invalid_without_asking_the_node() -> None:
    async with aiohttp.ClientSession() as session:
        # Nothing listens here: a call would raise RpcUnavailable.
        rpc = JsonRpcClient(f"http://127.0.0.1:{closed_port()}", session, timeout=1)
        result = await verify_contract_signature(
            rpc, OWNER.address, b"\x01" * 32, b"\x00" * 7 + ERC6492_MAGIC_SUFFIX
        )

    assert (result.valid, result.proof, result.outcome) == (False, "erc6492", "malformed_erc6492")


def test_unwrap_erc6492_round_trip() -> None:
    wrapped = wrap_erc6492(STRANGER.address, b"\x01\x02", b"\x03" * 65)
    parts = unwrap_erc6492(wrapped)
    assert parts is not None
    assert (parts.factory, parts.factory_calldata, parts.signature) == (
        STRANGER.address,
        b"\x01\x02",
        b"\x03" * 65,
    )
    assert unwrap_erc6492(b"\x03" * 65) is None


async def test_bad_arguments_are_refused(rpc: JsonRpcClient) -> None:
    with pytest.raises(ValueError, match="address"):
        await verify_contract_signature(rpc, "0x1234", b"\x01" * 32, b"")
    with pytest.raises(ValueError, match="32 bytes"):
        await verify_contract_signature(rpc, OWNER.address, b"\x01" * 31, b"")


# --- the node is down ------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedRpcServer]:
    server = ScriptedRpcServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _verify_through(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        rpc = JsonRpcClient(url, session, timeout=0.3)
        text = siwe_text(OWNER.address)
        await verify_contract_signature(
            rpc, OWNER.address, personal_message_hash(text), personal_sign(OWNER, text)
        )


async def test_node_not_listening_is_unavailable() -> None:
    with pytest.raises(RpcUnavailable):
        await _verify_through(f"http://127.0.0.1:{closed_port()}")


@pytest.mark.parametrize("answer", ["http-500", "garbage", "hang"])
async def test_node_answering_badly_is_unavailable(
    scripted: ScriptedRpcServer, answer: str
) -> None:
    if answer == "http-500":
        scripted.raw("Internal Server Error", status=500)
    elif answer == "garbage":
        scripted.raw(b"\x00<html>not json")
    else:
        scripted.hang(5)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RpcUnavailable) as raised:
        await _verify_through(scripted.url)

    assert loop.time() - started < 2
    assert "Base network isn't answering" in raised.value.message
    assert len(scripted.requests) == 1
