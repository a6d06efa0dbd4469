"""Background jobs the bot owns (not a cog): started in `setup_hook`, stopped in `close()`.

A job that raises is logged and runs again at its next turn: one failed poll must not
end the loop that follows every training.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        every: float,
        work: Callable[[], Awaitable[object]],
        *,
        wait_first: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.name = name
        self.every = every
        self.work = work
        self.wait_first = wait_first
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        if self.wait_first is not None:
            await self.wait_first()
        while True:
            try:
                await self.work()
            except Exception:
                log.exception("background job failed", extra={"job": self.name})
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()
