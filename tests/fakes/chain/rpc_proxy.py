"""A JSON-RPC proxy in front of a real node (anvil) that counts what passes, and can be
told to fail (HTTP 503, as a provider over its rate limit) or to answer like a node
without call traces (`debug_*`: "method not found"). For testing what the bot asks a
node and how it behaves when the node misbehaves, against real answers otherwise."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.http_requests = 0  # HTTP requests (a batch is one)
        self.methods: Counter[str] = Counter()  # calls, inside batches too
        self.batches: list[list[str]] = []  # each batch request's methods
        self.failing = False
        self.traces = True
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.http_requests += 1
        calls = body if isinstance(body, list) else [body]
        if isinstance(body, list):
            self.batches.append([str(c.get("method")) for c in calls])
        self.methods.update(str(c.get("method")) for c in calls)
        if self.failing:
            return web.json_response({"error": "over capacity"}, status=503)
        if not self.traces and any(str(c.get("method")).startswith("debug_") for c in calls):
            answers = [await self._one(c) for c in calls]
            return web.json_response(answers if isinstance(body, list) else answers[0])
        return web.Response(body=await self._forward(body), content_type="application/json")

    async def _one(self, call: dict[str, Any]) -> Any:
        if str(call.get("method")).startswith("debug_"):
            return {
                "jsonrpc": "2.0",
                "id": call.get("id"),
                "error": {"code": -32601, "message": "the method does not exist"},
            }
        return json.loads(await self._forward(call))

    async def _forward(self, body: Any) -> bytes:
        assert self._session is not None
        async with self._session.post(self.upstream, json=body) as answer:
            return await answer.read()
