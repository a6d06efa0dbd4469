"""A local stand-in for Are.na's v2 API and its image hosts, over real HTTP on 127.0.0.1.

`GET /v2/channels/{slug}` and `GET /v2/channels/{slug}/contents?page=&per=` answer JSON
shaped like Are.na's own (channel `title`, `slug`, `status`, `length`, `user`,
`contents`; blocks with `id`, `class`, `base_class`, `title`, `image` with its five
variants, connection fields). Image URLs point back at this server
(`/images/{block_id}/{variant}_{filename}?bc=0`), so tests download real bytes.

Tests make it misbehave with `faults` (one per API request, first come first served:
429 with Retry-After, 5xx, a hang, malformed JSON, a dropped connection), private
channels (401 without the right Bearer token), `endless` (every page full, forever), and
per-image problems (404, wrong content type, redirects, sizes, latency).
"""

from __future__ import annotations

import asyncio
import itertools
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.fal import tiny_png
from tests.fakes.gates import Gates

BlockClass = Literal["Image", "Text", "Link", "Media", "Attachment", "Channel"]
_STAMP = "2024-10-31T03:32:08.347Z"
_IDS = itertools.count(20939149)


def jpeg_bytes(seed: int, size: int = 0) -> bytes:
    """Bytes that start and end like a JPEG (SOI/APP0 JFIF … EOI), `size` long if given."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    body = seed.to_bytes(8, "big") + zlib.crc32(seed.to_bytes(8, "big")).to_bytes(4, "big")
    data = head + body
    if size > len(data) + 2:
        data += bytes((seed + i) % 251 for i in range(min(251, size - len(data) - 2)))
        data += b"\x00" * (size - len(data) - 2)
    return data + b"\xff\xd9"


@dataclass
class Fault:
    """How one API request misbehaves. `on`: only a request of that kind takes it."""

    kind: Literal["status", "hang", "malformed", "reset"] = "status"
    status: int = 503
    retry_after: str | None = None
    on: Literal["channel", "contents"] | None = None


@dataclass
class FakeChannel:
    slug: str
    title: str
    status: str = "public"  # public | closed | private
    blocks: list[dict[str, Any]] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_IDS))
    length_override: int | None = None

    @property
    def length(self) -> int:
        return len(self.blocks) if self.length_override is None else self.length_override


@dataclass
class ApiRequest:
    kind: str  # channel | contents
    slug: str
    page: int | None
    per: int | None
    authorization: str | None


class FakeArena:
    def __init__(self, *, token: str | None = None) -> None:
        self.token = token  # the one Bearer token that can read private channels
        self.channels: dict[str, FakeChannel] = {}
        self.faults: list[Fault] = []
        self.endless = False
        self.api_requests: list[ApiRequest] = []
        # Images, by block id.
        self.image_requests: list[str] = []  # "<block_id>/<variant>"
        self.image_latency = 0.0
        self.default_image_size = 0  # 0: a few dozen bytes
        self.image_sizes: dict[int, int] = {}
        self.image_types: dict[int, str] = {}  # block id -> "png" | "jpeg" | "gif" | "html"
        self.broken_images: set[int] = set()  # 404
        self.mislabelled_images: set[int] = set()  # served as text/html
        self.redirected_images: dict[int, str] = {}  # block id -> Location
        self.hang_images: set[int] = set()
        self.gates = Gates()  # "image": hold image downloads (tests/fakes/gates.py)
        self.in_flight = 0  # image requests being answered now
        self.max_in_flight = 0
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeArena:
        app = web.Application()
        app.router.add_get("/v2/channels/{slug}", self._channel)
        app.router.add_get("/v2/channels/{slug}/contents", self._contents)
        app.router.add_get("/images/{block_id}/{name}", self._image)
        app.router.add_get("/moved/{block_id}/{name}", self._image)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        self.gates.release_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- Building channels -------------------------------------------------------------

    def add_channel(
        self,
        slug: str,
        *,
        title: str = "Test channel",
        images: int = 0,
        others: dict[BlockClass, int] | None = None,
        status: str = "public",
        without_display: int = 0,
        without_file: int = 0,
    ) -> FakeChannel:
        """A channel with `images` Image blocks, then `others` blocks of other kinds
        interleaved; the first `without_display` images have only an original."""
        user = _user(408713, "ada-lovelace", "Ada Lovelace")
        channel = FakeChannel(slug=slug, title=title, status=status, user=user)
        kinds: list[BlockClass] = ["Image"] * images
        for kind, count in (others or {}).items():
            for n in range(count):
                kinds.insert(min(len(kinds), (n + 1) * 3), kind)
        image_index = 0
        for position, kind in enumerate(kinds, start=1):
            block_id = next(_IDS)
            if kind == "Image":
                drop_display = image_index < without_display
                no_file = without_display <= image_index < without_display + without_file
                block = self.image_block(block_id, position, user, drop_display, no_file)
                image_index += 1
            else:
                block = self.other_block(kind, block_id, position, user)
            channel.blocks.append(block)
        self.channels[slug] = channel
        return channel

    def image_url(self, block_id: int, variant: str, filename: str) -> str:
        query = "?1679183053?bc=0" if variant == "original" else "?bc=0"
        return f"{self.base_url}/images/{block_id}/{variant}_{filename}{query}"

    def image_block(
        self,
        block_id: int,
        position: int,
        user: dict[str, Any],
        drop_display: bool = False,
        no_file: bool = False,
    ) -> dict[str, Any]:
        filename = f"{block_id:x}{'0' * 20}.jpg"
        image: dict[str, Any] = {
            "filename": filename,
            "content_type": "image/jpeg",
            "updated_at": _STAMP,
        }
        for variant in ("thumb", "square", "display", "large"):
            if not (drop_display and variant in ("display", "large")):
                image[variant] = {"url": self.image_url(block_id, variant, filename)}
        image["original"] = {
            "url": self.image_url(block_id, "original", filename),
            "file_size": 6413525,
            "file_size_display": "6.12 MB",
        }
        block = _block(block_id, "Image", f"photo-{position}.jpg", position, user)
        block["image"] = None if no_file else image
        return block

    def other_block(
        self, kind: BlockClass, block_id: int, position: int, user: dict[str, Any]
    ) -> dict[str, Any]:
        if kind == "Channel":
            return {
                "id": block_id,
                "title": f"Nested {position}",
                "slug": f"nested-{block_id}",
                "class": "Channel",
                "base_class": "Channel",
                "length": 3,
                "status": "public",
                "user": user,
                "position": position,
            }
        block = _block(block_id, kind, f"{kind} {position}", position, user)
        if kind == "Text":
            block["content"] = block["content_html"] = "Some *notes*"
        if kind in ("Link", "Media"):
            # Link and Media blocks carry a screenshot image too: it must not be trained on.
            block["source"] = {"url": "https://example.com/page", "title": "Example"}
            block["image"] = self.image_block(block_id, position, user)["image"]
        if kind == "Media":
            block["embed"] = {"type": "video", "html": "<iframe></iframe>"}
        if kind == "Attachment":
            block["attachment"] = {
                "file_name": "notes.pdf",
                "content_type": "application/pdf",
                "url": f"{self.base_url}/attachments/{block_id}/notes.pdf",
            }
        return block

    # --- API -----------------------------------------------------------------------------

    def _take_fault(self, kind: str) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.on is None or fault.on == kind:
                return self.faults.pop(index)
        return None

    async def _misbehave(self, request: web.Request, kind: str) -> web.StreamResponse | None:
        fault = self._take_fault(kind)
        if fault is None:
            return None
        if fault.kind == "hang":
            await self._stopping.wait()
            return web.Response(status=503)
        if fault.kind == "malformed":
            return web.Response(body=b'{"contents": [{"id": 1,', content_type="application/json")
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return web.json_response(
            {"code": fault.status, "message": "fake failure"}, status=fault.status, headers=headers
        )

    def _record(self, request: web.Request, kind: str) -> ApiRequest:
        def number(name: str) -> int | None:
            value = request.query.get(name)
            return int(value) if value is not None and value.isdigit() else None

        entry = ApiRequest(
            kind=kind,
            slug=request.match_info["slug"],
            page=number("page"),
            per=number("per"),
            authorization=request.headers.get("Authorization"),
        )
        self.api_requests.append(entry)
        return entry

    def _visible(self, request: web.Request, entry: ApiRequest) -> FakeChannel | web.Response:
        channel = self.channels.get(entry.slug)
        if channel is None:
            return web.json_response(
                {"code": 404, "message": "Not Found", "description": "Channel not found"},
                status=404,
            )
        if channel.status == "private" and (
            self.token is None or entry.authorization != f"Bearer {self.token}"
        ):
            return web.json_response(
                {"code": 401, "message": "Unauthorized", "description": "Private channel"},
                status=401,
            )
        return channel

    def _page(self, channel: FakeChannel, page: int, per: int) -> list[dict[str, Any]]:
        if self.endless:
            return [channel.blocks[i % len(channel.blocks)] for i in range(per)]
        return channel.blocks[(page - 1) * per : page * per]

    async def _channel(self, request: web.Request) -> web.StreamResponse:
        entry = self._record(request, "channel")
        failure = await self._misbehave(request, "channel")
        if failure is not None:
            return failure
        channel = self._visible(request, entry)
        if isinstance(channel, web.Response):
            return channel
        per = min(entry.per or 20, 100)
        body = {
            "id": channel.id,
            "title": channel.title,
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "added_to_at": _STAMP,
            "published": channel.status != "private",
            "open": channel.status == "public",
            "collaboration": False,
            "collaborator_count": 0,
            "slug": channel.slug,
            "length": channel.length,
            "kind": "default",
            "status": channel.status,
            "user_id": channel.user.get("id"),
            "metadata": None,
            "class": "Channel",
            "base_class": "Channel",
            "user": channel.user,
            "total_pages": max(1, -(-channel.length // per)),
            "current_page": 1,
            "per": per,
            "follower_count": 3,
            "contents": self._page(channel, 1, per),
        }
        return web.json_response(body)

    async def _contents(self, request: web.Request) -> web.StreamResponse:
        entry = self._record(request, "contents")
        failure = await self._misbehave(request, "contents")
        if failure is not None:
            return failure
        channel = self._visible(request, entry)
        if isinstance(channel, web.Response):
            return channel
        page = max(1, entry.page or 1)
        per = min(entry.per or 20, 100)
        return web.json_response({"contents": self._page(channel, page, per)})

    # --- Images ----------------------------------------------------------------------------

    def image_bytes(self, block_id: int) -> bytes:
        """What this server answers for the block's image (any variant)."""
        kind = self.image_types.get(block_id, "jpeg")
        if kind == "png":
            return tiny_png(block_id)
        if kind == "gif":
            return b"GIF89a" + bytes(20)
        if kind == "html":
            return b"<!doctype html><title>Access denied</title>"
        return jpeg_bytes(block_id, self.image_sizes.get(block_id, self.default_image_size))

    async def _image(self, request: web.Request) -> web.StreamResponse:
        block_id = int(request.match_info["block_id"])
        name = request.match_info["name"]
        variant = name.split("_", 1)[0]
        self.image_requests.append(f"{block_id}/{variant}")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.image_latency:
                await asyncio.sleep(self.image_latency)
            if block_id in self.hang_images:
                await self._stopping.wait()
            await self.gates.at("image")
        finally:
            self.in_flight -= 1
        if block_id in self.broken_images:
            return web.Response(status=404, text="Not Found")
        if block_id in self.redirected_images and request.path.startswith("/images/"):
            raise web.HTTPFound(self.redirected_images[block_id])
        if block_id in self.mislabelled_images:
            return web.Response(body=b"<html>nope</html>", content_type="text/html")
        data = self.image_bytes(block_id)
        content_type = {"png": "image/png", "gif": "image/gif", "html": "image/jpeg"}.get(
            self.image_types.get(block_id, "jpeg"), "image/jpeg"
        )
        return web.Response(body=data, content_type=content_type)


def _user(user_id: int, slug: str, name: str) -> dict[str, Any]:
    first, _, last = name.partition(" ")
    return {
        "id": user_id,
        "created_at": "2017-11-09T21:21:21.353Z",
        "slug": slug,
        "username": name,
        "first_name": first,
        "last_name": last,
        "full_name": name,
        "avatar": "https://gravatar.com/avatar/x.png?d=blank&r=r&s=150",
        "avatar_image": {
            "thumb": "https://gravatar.com/avatar/x.png?s=40",
            "display": "https://gravatar.com/avatar/x.png?s=150",
        },
        "channel_count": 113,
        "following_count": 54,
        "profile_id": 107323,
        "follower_count": 15,
        "initials": "AL",
        "can_index": True,
        "metadata": {"description": None},
        "is_premium": False,
        "is_lifetime_premium": False,
        "is_supporter": False,
        "is_exceeding_connections_limit": False,
        "is_confirmed": True,
        "is_pending_reconfirmation": False,
        "is_pending_confirmation": False,
        "badge": None,
        "base_class": "User",
        "class": "User",
    }


def _block(
    block_id: int, kind: str, title: str, position: int, user: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": block_id,
        "title": title,
        "updated_at": _STAMP,
        "created_at": _STAMP,
        "state": "available",
        "comment_count": 0,
        "generated_title": title,
        "content_html": "",
        "description_html": "",
        "visibility": "public",
        "content": "",
        "description": "",
        "source": None,
        "image": None,
        "embed": None,
        "attachment": None,
        "metadata": None,
        "base_class": "Block",
        "class": kind,
        "user": user,
        "position": position,
        "selected": False,
        "connection_id": block_id + 1000,
        "connected_at": _STAMP,
        "connected_by_user_id": user["id"],
        "connected_by_username": user["username"],
        "connected_by_user_slug": user["slug"],
    }
