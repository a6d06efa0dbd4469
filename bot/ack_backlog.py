"""Acknowledgements before answers: under a burst, every interaction is acknowledged
before any of them gets its database and rendering work.

Discord drops an interaction that is not acknowledged within 3 seconds; an answer has 15
minutes. On one event loop both compete for the same CPU, so without an order the
answers of the first interactions of a burst delay the acknowledgements of the last
ones. The bot records each interaction as it is parsed (`received`, synchronous, so a
whole gateway read is counted before any handler runs); a handler that has acknowledged
awaits `settled()` before its work, which returns once nothing received is still waiting
for its acknowledgement.

Only the oldest entries are looked at: an interaction nobody answers (a button of
another bot's, an id no handler matches) stops holding answers back once it is
`horizon` seconds old, when Discord has dropped it anyway; and no answer waits longer
than `max_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Acknowledgeable(Protocol):
    def is_done(self) -> bool: ...


class AckBacklog:
    def __init__(
        self,
        *,
        horizon: float = 3.0,
        max_wait: float = 3.0,
        look_every: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.horizon = horizon
        self.max_wait = max_wait
        self.look_every = look_every
        self._clock = clock
        self._waiting: deque[tuple[float, Acknowledgeable]] = deque()
        self._clear = asyncio.Event()
        self._clear.set()
        self._watch: asyncio.Task[None] | None = None

    def received(self, response: Acknowledgeable) -> None:
        """An interaction has arrived (its `InteractionResponse`)."""
        self._waiting.append((self._clock(), response))
        self._clear.clear()

    def pending(self) -> int:
        """How many are waiting, counted from the oldest still waiting (0: none)."""
        cutoff = self._clock() - self.horizon
        waiting = self._waiting
        while waiting and (waiting[0][0] < cutoff or waiting[0][1].is_done()):
            waiting.popleft()
        if not waiting:
            self._clear.set()
        return len(waiting)

    async def settled(self) -> None:
        """Return once no interaction waits for its acknowledgement (or after
        `max_wait`). Awaited after a handler's own acknowledgement."""
        if not self.pending():
            return
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._look())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_wait):
                await self._clear.wait()

    async def _look(self) -> None:
        # One task looks for every waiter: an acknowledgement sent without
        # `acknowledged()` (a modal, a direct reply) and age are only seen by looking.
        while self.pending():  # noqa: ASYNC110 (no event to wait for: see above)
            await asyncio.sleep(self.look_every)

    def acknowledged(self) -> None:
        """A handler has just acknowledged: release the waiters if it was the last."""
        self.pending()
