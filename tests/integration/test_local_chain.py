"""The local chain the other tests rely on behaves like Base where it matters to them."""

from __future__ import annotations

from eth_account import Account

from bot.clients.rpc import JsonRpcClient
from tests.fakes.chain import BASE_CHAIN_ID, AnvilNode, DevChain
from tests.fakes.chain.fixtures import WalletContracts


async def test_anvil_answers_with_bases_chain_id(rpc: JsonRpcClient, anvil_node: AnvilNode) -> None:
    assert anvil_node.url.startswith("http://127.0.0.1:")
    assert await rpc.chain_id() == BASE_CHAIN_ID == 8453


async def test_value_transfer_is_mined(chain: DevChain, rpc: JsonRpcClient) -> None:
    sender, _ = (await chain.accounts())[:2]
    recipient = Account.create().address
    before = await chain.block_number()
    await chain.send_transaction(to=recipient, value=10**15, sender=sender)
    assert await rpc.call("eth_getBalance", [recipient, "latest"]) == hex(10**15)
    assert await chain.block_number() == before + 1


async def test_set_code_and_mine(chain: DevChain, wallet_contracts: WalletContracts) -> None:
    somewhere = Account.create().address
    assert await chain.code(somewhere) == b""
    await chain.set_code(somewhere, wallet_contracts.smart_wallet.deployed_bytecode)
    assert await chain.code(somewhere) == wallet_contracts.smart_wallet.deployed_bytecode
    before = await chain.block_number()
    await chain.mine(3)
    assert await chain.block_number() == before + 3


async def test_a_private_node_starts_and_stops() -> None:
    async with AnvilNode(chain_id=31337) as node:
        url = node.url
        assert node.log_path.exists()
    assert node.port == 0
    assert url.startswith("http://127.0.0.1:")
