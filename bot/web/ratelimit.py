"""A sliding-window limit per client address, in memory, for the pages' JSON endpoints.

Each wrong signature posted to `/link/<token>` may cost the bot RPC calls, and every
request a database round trip: one address gets `limit` requests per `window` seconds
over all the endpoints that share a limiter. In memory is enough: one bot process
serves the pages, and a restart forgetting the counts only resets the window.

The key is the TCP peer address (`request.remote`). Behind a reverse proxy every client
shares the proxy's address, so the limit becomes one for everybody.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.web.responses import json_response

Handler = Callable[[web.Request], Awaitable[web.Response]]

TOO_MANY = "Too many requests from your network. Wait a minute, then try again."


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        # Address -> times of its requests in the window; least recently seen first.
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many clients are remembered."""
        return len(self._hits)

    def hit(self, client: str) -> float | None:
        """Count a request from `client`: None when allowed, else the seconds to wait."""
        now = self.clock()
        hits = self._hits.pop(client, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        self._hits[client] = hits  # now the most recently seen
        if len(hits) >= self.limit:
            return max(hits[0] + self.window - now, 0.0)
        hits.append(now)
        while len(self._hits) > self.max_clients:
            self._hits.popitem(last=False)  # bounded memory: forget the longest quiet
        return None

    def guard(self, handler: Handler) -> Handler:
        """`handler`, answering 429 with a JSON error once the client is over the limit."""

        async def limited(request: web.Request) -> web.Response:
            wait = self.hit(request.remote or "unknown")
            if wait is not None:
                response = json_response({"error": TOO_MANY, "retry": True}, 429)
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
            return await handler(request)

        return limited
