"""A real local Ethereum node: anvil (from the npm package @foundry-rs/anvil), on a free
127.0.0.1 port, with Base's chain id.

    with AnvilNode() as node:          # from a (session) fixture
        ...node.url...
    async with AnvilNode() as node:    # from a test
        ...

It starts in about 50 ms. Its log goes to a file, shown when it fails to start.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.fakes.chain.tools import anvil_binary

BASE_CHAIN_ID = 8453
# No proxy from the environment: the node is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


class AnvilNode:
    def __init__(
        self,
        *,
        chain_id: int = BASE_CHAIN_ID,
        hardfork: str = "prague",  # nearest to Base today (OP Stack Isthmus took Prague's EVM changes)
        extra_args: tuple[str, ...] = (),
        start_timeout: float = 15.0,
    ) -> None:
        self.chain_id = chain_id
        self._args = [
            "--host",
            "127.0.0.1",
            "--port",
            "0",  # anvil picks a free port and logs it: no race with other processes
            "--chain-id",
            str(chain_id),
            "--hardfork",
            hardfork,
            *extra_args,
        ]
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        assert self.port, "anvil is not running"
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / "anvil.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (AssertionError, OSError):
            return "(no log)"

    def start(self) -> None:
        assert self._process is None, "already started"
        self._dir = tempfile.TemporaryDirectory(prefix="anvil-")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [str(anvil_binary()), *self._args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"anvil exited with code {self._process.returncode}:\n{self.log_tail()}"
                )
            if not self.port:
                found = _LISTENING.search(self.log_path.read_text(errors="replace"))
                self.port = int(found.group(1)) if found else 0
            if self.port and self._chain_id_answers():
                return
            time.sleep(0.01)
        raise TimeoutError(
            f"anvil did not answer within {self._start_timeout} s:\n{self.log_tail()}"
        )

    def _chain_id_answers(self) -> bool:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        request = urllib.request.Request(
            self.url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with _OPENER.open(request, timeout=1) as response:
                return bool(json.load(response).get("result") == hex(self.chain_id))
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.port = 0
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
