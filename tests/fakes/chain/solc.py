"""Compile Solidity with the npm solc-js (pinned in package.json), through `node`.

Outputs are cached under `node_modules/.cache/` keyed by the whole standard-JSON input and
the compiler version, so a test session compiles only what changed (loading soljson takes
about a second; a cache hit takes none).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.chain.tools import NODE_MODULES, node_binary, solc_package

COMPILE_SCRIPT = Path(__file__).with_name("solc_compile.js")
CACHE = NODE_MODULES / ".cache" / "lora-bot-solc"

# What the test contracts are compiled with; the checker has its own pinned settings.
TEST_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
}


class CompileError(RuntimeError):
    pass


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes  # creation code
    deployed_bytecode: bytes  # runtime code
    compiler: str  # as the compiler reports itself, e.g. "0.8.37+commit.f401782d.Emscripten.clang"


def solc_version() -> str:
    """The npm package's version, e.g. "0.8.37" (the compiler reports it with a commit)."""
    return str(json.loads((solc_package() / "package.json").read_text())["version"])


def compile_sources(
    sources: Mapping[str, str], settings: Mapping[str, Any] = TEST_SETTINGS
) -> dict[str, CompiledContract]:
    """Compile `{unit name: source text}`; returns every contract by name."""
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            **settings,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }
    result = _compile_cached(standard_input)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    contracts: dict[str, CompiledContract] = {}
    for unit in output["contracts"].values():
        for name, artefact in unit.items():
            contracts[name] = CompiledContract(
                name=name,
                abi=artefact["abi"],
                bytecode=bytes.fromhex(artefact["evm"]["bytecode"]["object"]),
                deployed_bytecode=bytes.fromhex(artefact["evm"]["deployedBytecode"]["object"]),
                compiler=result["version"],
            )
    return contracts


def compile_files(
    paths: Sequence[Path], settings: Mapping[str, Any] = TEST_SETTINGS
) -> dict[str, CompiledContract]:
    """Compile files that import each other by their file names (`import "./A.sol"`)."""
    return compile_sources({path.name: path.read_text() for path in paths}, settings)


def _compile_cached(standard_input: dict[str, Any]) -> dict[str, Any]:
    encoded = json.dumps(standard_input, sort_keys=True).encode()
    key = hashlib.sha256(solc_version().encode() + b"\0" + encoded).hexdigest()
    cached = CACHE / f"{key}.json"
    if cached.is_file():
        result: dict[str, Any] = json.loads(cached.read_text())
        return result
    done = subprocess.run(
        [node_binary(), str(COMPILE_SCRIPT)],
        input=encoded,
        capture_output=True,
        cwd=NODE_MODULES.parent,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise CompileError(f"solc-js failed: {done.stderr.decode(errors='replace')}")
    result = json.loads(done.stdout)
    CACHE.mkdir(parents=True, exist_ok=True)
    # Atomic, so an interrupted run never leaves a half-written cache entry.
    fd, temporary = tempfile.mkstemp(dir=CACHE, suffix=".tmp")
    with os.fdopen(fd, "wb") as file:
        file.write(done.stdout)
    Path(temporary).replace(cached)
    return result
