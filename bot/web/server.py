"""The bot's own HTTP server (aiohttp, in the bot process).

It serves `/healthz` now; the signing and payment pages are added to the same
application by the features that need them.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web.health import HealthCheck, health_routes

log = logging.getLogger(__name__)


class WebServer:
    def __init__(self, host: str, port: int, health: HealthCheck) -> None:
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.add_routes(health_routes(health))
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Let a feature add its pages before the server starts."""
        self.app.add_routes(routes)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port)
        await self._site.start()
        log.info("http server listening", extra={"url": self.url})

    @property
    def bound_port(self) -> int:
        """The real port (useful when HTTP_PORT=0 picked a free one)."""
        if self._runner is None:
            return self.port
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                return int(address[1])
        return self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None
