"""Stand-in pictures for screenshots, served over HTTP on 127.0.0.1: a soft gradient
with a disc, its hue from a seed, so a gallery shows distinct images (real ones would
need the internet)."""

from __future__ import annotations

import colorsys
import struct
import zlib

from aiohttp import web


def sample_png(seed: int, size: int = 128) -> bytes:
    hue = (seed * 0.137) % 1.0
    cx, cy, radius = size * (0.3 + (seed % 5) * 0.1), size * 0.55, size * 0.22
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            light = 0.25 + 0.45 * (x + y) / (2 * size)
            inside = (x - cx) ** 2 + (y - cy) ** 2 < radius**2
            r, g, b = colorsys.hls_to_rgb((hue + (0.5 if inside else 0)) % 1, light, 0.6)
            row += bytes((int(r * 255), int(g * 255), int(b * 255)))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class PictureServer:
    """`url(n)` is a PNG at http://127.0.0.1:PORT/pictures/n.png."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._cache: dict[int, bytes] = {}
        self.port = 0

    def url(self, seed: int) -> str:
        return f"http://127.0.0.1:{self.port}/pictures/{seed}.png"

    async def start(self) -> PictureServer:
        app = web.Application()
        app.router.add_get("/pictures/{seed:\\d+}.png", self._picture)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _picture(self, request: web.Request) -> web.Response:
        seed = int(request.match_info["seed"])
        if seed not in self._cache:
            self._cache[seed] = sample_png(seed)
        return web.Response(body=self._cache[seed], content_type="image/png")
