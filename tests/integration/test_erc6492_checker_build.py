"""The checker's creation code embedded in the bot is what its Solidity source compiles to."""

from __future__ import annotations

from pathlib import Path

from bot.services.wallet.contracts import erc6492_checker
from tests.fakes.chain.fixtures import require_node
from tests.fakes.chain.solc import compile_files, solc_version

SOURCE = Path(erc6492_checker.__file__).with_name(erc6492_checker.SOURCE)
REGENERATE = "run: .venv/bin/python -m tests.fakes.chain.regenerate_checker"


def test_solc_in_node_modules_is_the_pinned_version() -> None:
    require_node()
    assert solc_version() == erc6492_checker.SOLC_VERSION
    assert f"pragma solidity {erc6492_checker.SOLC_VERSION};" in SOURCE.read_text()


def test_embedded_creation_code_equals_a_fresh_compile() -> None:
    require_node()
    fresh = compile_files([SOURCE], erc6492_checker.SOLC_SETTINGS)["Erc6492Checker"]
    assert fresh.compiler.startswith(erc6492_checker.SOLC_VERSION + "+")
    assert fresh.bytecode == erc6492_checker.CREATION_CODE, REGENERATE
