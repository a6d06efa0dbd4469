"""A JSON-RPC endpoint on 127.0.0.1 that answers however a test scripts it: a result, an
error object, an HTTP status, bytes that are not JSON, or nothing for a while. For testing
how the bot's client maps each kind of failure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

# Gets the request and its parsed JSON body.
Responder = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


class ScriptedRpcServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._responder: Responder = self._default
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, shutdown_timeout=0.1, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        # A path like a provider's, with a key in it, to check it never shows up anywhere.
        self.url = f"http://127.0.0.1:{port}/v2/secret-api-key-0123456789"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        return await self._responder(request, body)

    async def _default(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x2105"})

    # --- scripts ----------------------------------------------------------------------
    def respond(self, responder: Responder) -> None:
        self._responder = responder

    def result(self, value: Any) -> None:
        async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": value})

        self.respond(answer)

    def error(self, code: int, message: str, data: Any = None, *, status: int = 200) -> None:
        async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            error = {"code": code, "message": message, **({"data": data} if data else {})}
            return web.json_response(
                {"jsonrpc": "2.0", "id": body["id"], "error": error}, status=status
            )

        self.respond(answer)

    def raw(self, payload: bytes | str, *, status: int = 200) -> None:
        async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            text = payload if isinstance(payload, bytes) else payload.encode()
            return web.Response(body=text, status=status, content_type="application/json")

        self.respond(answer)

    def json(self, payload: Any, *, status: int = 200) -> None:
        self.raw(json.dumps(payload), status=status)

    def hang(self, seconds: float) -> None:
        async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x"})

        self.respond(answer)

    def trickle(self, seconds: float) -> None:
        """Send the headers and the start of the body, then nothing for `seconds`."""

        async def answer(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 1000
            await response.prepare(request)
            await response.write(b'{"jsonrpc": "2.0", ')
            await asyncio.sleep(seconds)
            return response

        self.respond(answer)
