"""Pytest fixtures for tests against a real local chain. Import them into a conftest:

    from tests.fakes.chain.fixtures import anvil_node, chain, rpc, wallet_contracts  # noqa: F401

One anvil and one compile serve the whole session; tests deploy their own contracts, so
they do not see each other's state. Without `node` the tests skip (nothing here can run);
with node but without `node_modules/` they fail, since `scripts/test` always installs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.clients.rpc import JsonRpcClient
from tests.fakes.chain.anvil import AnvilNode
from tests.fakes.chain.devchain import DevChain
from tests.fakes.chain.solc import CompiledContract, compile_files
from tests.fakes.chain.tools import NodeMissing, node_binary

CONTRACTS = Path(__file__).with_name("contracts")


def require_node() -> None:
    try:
        node_binary()
    except NodeMissing as exc:
        pytest.skip(f"chain tests need node and npm: {exc}")


@dataclass(frozen=True)
class WalletContracts:
    smart_wallet: CompiledContract
    wallet_factory: CompiledContract


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[AnvilNode]:
    require_node()
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="session")
def wallet_contracts() -> WalletContracts:
    require_node()
    compiled = compile_files(sorted(CONTRACTS.glob("*.sol")))
    return WalletContracts(compiled["SmartWallet"], compiled["WalletFactory"])


@pytest.fixture
async def rpc(anvil_node: AnvilNode) -> AsyncIterator[JsonRpcClient]:
    async with aiohttp.ClientSession() as session:
        yield JsonRpcClient(anvil_node.url, session, timeout=10.0)


@pytest.fixture
def chain(rpc: JsonRpcClient) -> DevChain:
    return DevChain(rpc)
