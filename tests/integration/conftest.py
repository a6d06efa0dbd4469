"""Integration tests: the bot's services against real local servers (anvil, fakes)."""

from tests.fakes.chain.fixtures import anvil_node, chain, rpc, wallet_contracts

__all__ = ["anvil_node", "chain", "rpc", "wallet_contracts"]
