"""A real local Ethereum chain for tests: anvil, solc-js, and helpers around them."""

from tests.fakes.chain.anvil import BASE_CHAIN_ID, AnvilNode
from tests.fakes.chain.devchain import DevChain, Receipt, TransactionFailed, calldata
from tests.fakes.chain.scripted_rpc import ScriptedRpcServer
from tests.fakes.chain.solc import CompiledContract, CompileError, compile_files, compile_sources

__all__ = [
    "BASE_CHAIN_ID",
    "AnvilNode",
    "CompileError",
    "CompiledContract",
    "DevChain",
    "Receipt",
    "ScriptedRpcServer",
    "TransactionFailed",
    "calldata",
    "compile_files",
    "compile_sources",
]
