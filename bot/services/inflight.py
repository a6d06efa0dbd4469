"""`InFlight`: the work that must reach a recorded step before the bot stops.

A paid submission or a generation runs inside `hold(...)`. On SIGTERM the bot stops
taking new work (`stop_taking`: a new `hold` raises `ShuttingDown`, which the user reads
as "restarting, try again"), waits a bounded time for what is running (`drain`), then
cancels what is left: their own clean-up (rolling a submission back to a usable
credit, releasing a quota slot) still runs, because the database closes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bot.errors import UserFacingError

log = logging.getLogger(__name__)

CLEAN_UP_SECONDS = 5.0  # what cancelled work gets to record its last step


class ShuttingDown(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "The bot is restarting right now, so it can't start that. Nothing was charged "
            "or lost: try again in a minute."
        )


class InFlight:
    def __init__(self) -> None:
        self._running: dict[asyncio.Task[object], str] = {}
        self.stopping = False

    @contextlib.asynccontextmanager
    async def hold(self, what: str) -> AsyncIterator[None]:
        if self.stopping:
            raise ShuttingDown()
        task = asyncio.current_task()
        if task is None:  # not inside a task: nothing to wait for
            yield
            return
        self._running[task] = what
        try:
            yield
        finally:
            self._running.pop(task, None)

    @property
    def running(self) -> list[str]:
        return list(self._running.values())

    def stop_taking(self) -> None:
        self.stopping = True

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for the work in hand; cancel what is left and
        give it a few seconds to clean up. Returns how many were cancelled."""
        tasks = set(self._running)
        if not tasks:
            return 0
        log.info("waiting for work in progress", extra={"work": ", ".join(self.running)})
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            log.warning("stopping work in progress", extra={"work": self._running.get(task)})
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=CLEAN_UP_SECONDS)
        return len(late)
