"""The pool of connections to Discord's REST API, with room kept for acknowledgements.

Every interaction is acknowledged first and answered after its work (`cogs.common.
respond`), so a burst makes two requests per interaction: the acknowledgement, which
must reach Discord within 3 seconds, and the answer, which has 15 minutes. In one
first-come pool, the answers of the first interactions of a burst hold every connection
while the acknowledgements of the next ones wait behind them and miss their 3 seconds.
Here anything but an interaction callback may hold at most `limit - reserved`
connections at once, so the acknowledgements always find one free.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


def is_acknowledgement(url: Any) -> bool:
    # POST /interactions/{id}/{token}/callback
    path = str(url.path)
    return path.endswith("/callback") and "/interactions/" in path


class AckFirstConnector(aiohttp.TCPConnector):
    def __init__(self, *, limit: int, reserved: int, **kwargs: Any) -> None:
        if not 0 < reserved < limit:
            raise ValueError("reserved must be between 0 and limit")
        super().__init__(limit=limit, **kwargs)
        self._others = asyncio.Semaphore(limit - reserved)

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        if is_acknowledgement(req.url):
            return await super().connect(req, traces, timeout)
        await self._others.acquire()
        try:
            connection = await super().connect(req, traces, timeout)
        except BaseException:
            self._others.release()
            raise
        # Called once, when the connection goes back to the pool or is closed.
        connection.add_callback(self._others.release)
        return connection
