"""Where the npm test tools are: `node`, and what `scripts/test-tools.sh` installs into
`node_modules/` from the top-level package.json (anvil, solc-js)."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NODE_MODULES = ROOT / "node_modules"
INSTALL_HINT = (
    "run scripts/test (it installs the npm test tools), or `npm install` at the top level"
)

# The platform packages @foundry-rs/anvil pulls in as optional dependencies.
_ANVIL_PLATFORMS = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "amd64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
}


class NodeMissing(RuntimeError):
    """No `node` on PATH: the only reason the chain tests may skip."""


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeMissing("node is not installed (apt-get install nodejs npm)")
    return node


def anvil_binary() -> Path:
    """The native anvil binary. Run directly rather than through `node_modules/.bin/anvil`
    (a node wrapper that spawns it), so stopping the process stops the node itself."""
    key = (sys.platform, platform.machine().lower())
    candidates: list[Path] = []
    if key in _ANVIL_PLATFORMS:
        package = NODE_MODULES / "@foundry-rs" / f"anvil-{_ANVIL_PLATFORMS[key]}"
        candidates.append(package / "bin" / "anvil")
    # Where the package's postinstall puts a binary it had to download itself.
    candidates.append(NODE_MODULES / "@foundry-rs" / "anvil" / "anvil")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"anvil is not in {NODE_MODULES}: {INSTALL_HINT}")


def solc_package() -> Path:
    package = NODE_MODULES / "solc"
    if not (package / "soljson.js").is_file():
        raise FileNotFoundError(f"solc-js is not in {NODE_MODULES}: {INSTALL_HINT}")
    return package
