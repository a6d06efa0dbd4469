"""A local stand-in for fal.ai's queue API and media host, over real HTTP on 127.0.0.1.

`POST /{owner}/{alias}` submits and answers the status/response/cancel URLs (on this
server); `GET …/requests/{id}/status` walks through IN_QUEUE (with positions),
IN_PROGRESS and COMPLETED; `GET …/requests/{id}` answers the result; `GET /media/{name}`
serves the images. Tests choose how it misbehaves through `FakeFal.mode`.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def tiny_png(seed: int = 0) -> bytes:
    """A valid 2x2 PNG whose colour depends on `seed` (distinct bytes per image)."""
    raw = b"".join(b"\x00" + bytes([seed % 256, 80, 160]) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return out.getvalue()


@dataclass
class FalMode:
    """How the next requests behave."""

    queue_positions: list[int] = field(default_factory=lambda: [1, 0])
    submit_status: int = 200  # e.g. 500, 422
    result: str = "ok"  # ok | malformed | error | hang
    images: int = 4
    nsfw: list[bool] | None = None  # flags per returned image
    seed: int | str = 18446744073709551557  # bigger than 2^53, like real fal seeds
    hang_seconds: float = 30.0
    broken_media: set[int] = field(default_factory=set)  # image indexes whose download 404s


@dataclass
class FalRequest:
    request_id: str
    app: str
    arguments: dict[str, Any]
    polls: int = 0
    cancelled: bool = False


class FakeFal:
    def __init__(self) -> None:
        self.mode = FalMode()
        self.requests: dict[str, FalRequest] = {}
        self.submissions: list[FalRequest] = []
        self.media_fetches = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeFal:
        app = web.Application()
        app.router.add_get("/media/{name}", self._media)
        app.router.add_get("/{owner}/{alias}/requests/{rid}/status", self._status)
        app.router.add_get("/{owner}/{alias}/requests/{rid}", self._result)
        app.router.add_put("/{owner}/{alias}/requests/{rid}/cancel", self._cancel)
        app.router.add_post("/{owner}/{alias}", self._submit)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _submit(self, request: web.Request) -> web.Response:
        app = f"{request.match_info['owner']}/{request.match_info['alias']}"
        if not request.headers.get("Authorization", "").startswith("Key "):
            return web.json_response({"detail": "No credentials"}, status=401)
        if self.mode.submit_status != 200:
            return web.json_response({"detail": "fake failure"}, status=self.mode.submit_status)
        arguments = await request.json()
        rid = secrets.token_hex(8)
        entry = FalRequest(rid, app, arguments)
        self.requests[rid] = entry
        self.submissions.append(entry)
        base = f"{self.base_url}/{app}/requests/{rid}"
        return web.json_response(
            {
                "request_id": rid,
                "status_url": f"{base}/status",
                "response_url": base,
                "cancel_url": f"{base}/cancel",
                "queue_position": self.mode.queue_positions[0] if self.mode.queue_positions else 0,
            }
        )

    async def _status(self, request: web.Request) -> web.Response:
        entry = self.requests.get(request.match_info["rid"])
        if entry is None:
            return web.json_response({"detail": "not found"}, status=404)
        entry.polls += 1
        positions = self.mode.queue_positions
        if entry.polls <= len(positions):
            return web.json_response(
                {"status": "IN_QUEUE", "queue_position": positions[entry.polls - 1]}
            )
        if self.mode.result == "hang":
            return web.json_response({"status": "IN_PROGRESS", "logs": []})
        return web.json_response({"status": "COMPLETED", "logs": [], "metrics": {}})

    async def _result(self, request: web.Request) -> web.Response:
        entry = self.requests.get(request.match_info["rid"])
        if entry is None:
            return web.json_response({"detail": "not found"}, status=404)
        mode = self.mode
        if mode.result == "malformed":
            return web.Response(body=b"{not json", content_type="application/json")
        if mode.result == "error":
            return web.json_response({"detail": "internal error"}, status=500)
        if mode.result == "hang":
            await asyncio.sleep(mode.hang_seconds)
        images = [
            {
                "url": f"{self.base_url}/media/{entry.request_id}-{i}.png",
                "width": 1024,
                "height": 1024,
                "content_type": "image/png",
            }
            for i in range(mode.images)
        ]
        body = {
            "images": images,
            # fal-ai/flux-lora answers the seed it used: the one asked for, if any.
            "seed": entry.arguments.get("seed", mode.seed),
            "has_nsfw_concepts": mode.nsfw if mode.nsfw is not None else [False] * mode.images,
            "timings": {"inference": 0.01},
            "prompt": entry.arguments.get("prompt"),
        }
        return web.Response(body=json.dumps(body), content_type="application/json")

    async def _cancel(self, request: web.Request) -> web.Response:
        entry = self.requests.get(request.match_info["rid"])
        if entry is not None:
            entry.cancelled = True
        return web.json_response({"status": "CANCELLATION_REQUESTED"})

    async def _media(self, request: web.Request) -> web.Response:
        self.media_fetches += 1
        name = request.match_info["name"]
        index = int(name.rsplit("-", 1)[-1].split(".")[0]) if "-" in name else 0
        if index in self.mode.broken_media:
            return web.Response(status=404)
        return web.Response(body=tiny_png(index), content_type="image/png")
