"""The web app's own database stack (tests/webapp/webapp.mjs: Kysely over
@libsql/kysely-libsql, the seed's table creation and procedures) as a child process the
tests talk to, on the same database file the bot uses."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "webapp" / "webapp.mjs"


class WebAppError(Exception):
    """A procedure of the web app threw (NOT_FOUND, FORBIDDEN, BAD_REQUEST…)."""


class WebApp:
    def __init__(self, database: Path) -> None:
        self.database = database
        self._process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> WebApp:
        node = shutil.which("node")
        assert node is not None, "node is needed (apt-get install nodejs)"
        self._process = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            f"file:{self.database}",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def call(self, op: str, **args: Any) -> Any:
        """Run one of the web app's procedures; its result, or `WebAppError`."""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        async with self._lock:
            request_id = next(self._ids)
            process.stdin.write(
                (json.dumps({"id": request_id, "op": op, "args": args}) + "\n").encode()
            )
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise WebAppError("the web app process ended")
        answer = json.loads(line)
        assert answer["id"] == request_id
        if not answer["ok"]:
            raise WebAppError(answer["error"])
        return answer["result"]
