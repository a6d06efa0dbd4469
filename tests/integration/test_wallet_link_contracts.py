"""Linking a smart-contract wallet end to end through WalletLinker: the real database,
and ERC-1271 / ERC-6492 checks against a real node (anvil)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from bot.clients.rpc import JsonRpcClient
from bot.errors import UserFacingError
from bot.services.wallet.links import SigningOrigin, WalletLinker
from storage import wallets as wallet_links
from storage.db import Database
from tests.fakes.chain import DevChain
from tests.fakes.chain.fixtures import WalletContracts
from tests.integration.test_contract_signatures import Wallets, personal_sign, wrap_erc6492

OWNER = Account.from_key(keccak(b"smart wallet owner"))
STRANGER = Account.from_key(keccak(b"not the owner"))
ORIGIN = SigningOrigin(domain="bot.example", uri="https://bot.example")


@pytest.fixture
async def factory(chain: DevChain, wallet_contracts: WalletContracts) -> Wallets:
    return Wallets(chain, await chain.deploy(wallet_contracts.wallet_factory))


@pytest.fixture
def linker(db: Database, rpc: JsonRpcClient) -> WalletLinker:
    return WalletLinker(db, ORIGIN, rpc=rpc, clock=lambda: datetime.now(UTC))


async def test_a_deployed_smart_wallet_links_through_erc1271(
    linker: WalletLinker, factory: Wallets, db: Database
) -> None:
    wallet = to_checksum_address(await factory.deploy(OWNER.address, keccak(b"one")))
    challenge = await linker.start(42, "alice")
    text = await linker.message_for(challenge.token, wallet, user_id=42)
    result = await linker.complete(challenge.token, personal_sign(OWNER, text), user_id=42)
    assert (result.address, result.proof) == (wallet, "erc1271")
    link = await wallet_links.get_link(db, 42)
    assert link is not None
    assert (link.wallet_address, link.proof) == (wallet, "erc1271")


async def test_an_undeployed_wallet_links_through_erc6492(
    linker: WalletLinker, factory: Wallets, chain: DevChain
) -> None:
    salt = keccak(b"two")
    wallet = to_checksum_address(await factory.address_of(OWNER.address, salt))
    assert await chain.code(wallet) == b""
    challenge = await linker.start(42, "alice")
    text = await linker.message_for(challenge.token, wallet, user_id=42)
    wrapped = wrap_erc6492(
        factory.factory, Wallets.deploy_calldata(OWNER.address, salt), personal_sign(OWNER, text)
    )
    result = await linker.complete(challenge.token, "0x" + wrapped.hex(), user_id=42)
    assert (result.address, result.proof) == (wallet, "erc6492")
    assert await chain.code(wallet) == b""  # checked without deploying anything


async def test_a_smart_wallet_refuses_a_strangers_signature(
    linker: WalletLinker, factory: Wallets
) -> None:
    wallet = await factory.deploy(OWNER.address, keccak(b"three"))
    challenge = await linker.start(42, "alice")
    text = await linker.message_for(challenge.token, wallet, user_id=42)
    with pytest.raises(UserFacingError, match="not made by"):
        await linker.complete(challenge.token, personal_sign(STRANGER, text), user_id=42)
    salt = keccak(b"four")
    undeployed = await factory.address_of(OWNER.address, salt)
    challenge = await linker.start(42, "alice")
    text = await linker.message_for(challenge.token, undeployed, user_id=42)
    forged = wrap_erc6492(
        factory.factory, Wallets.deploy_calldata(OWNER.address, salt), personal_sign(STRANGER, text)
    )
    with pytest.raises(UserFacingError, match="not made by"):
        await linker.complete(challenge.token, forged, user_id=42)
