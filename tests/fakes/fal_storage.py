"""A local stand-in for fal's file storage, over real HTTP on 127.0.0.1: what fal-client
1.0.3 calls when it uploads (`bot.clients.fal.configure_storage_endpoints` points
`REST_URL` and `CDN_URL` here).

- `POST /storage/auth/token?storage_type=fal-cdn-v3` (`Authorization: Key …`) →
  `{token, token_type, base_url, expires_at}`;
- `POST /files/upload` (`Authorization: Bearer <token>`, raw body, `X-Fal-File-Name`) →
  `{access_url}`: files up to 100 MB;
- `POST {base_url}/files/upload/multipart` → `{access_url, uploadId}`, then
  `PUT {access_url}/multipart/{uploadId}/{n}` (answers an `ETag`) and
  `POST {access_url}/multipart/{uploadId}/complete` `{parts}`: files over 100 MB;
- `POST /storage/upload/initiate?storage_type=gcs` → `{upload_url, file_url}`, then
  `PUT upload_url`: fal-client's fallback when the CDN upload fails;
- `GET /files/{id}/{name}`: the stored file, as fal's CDN would serve it.

Uploads are kept (bytes, or only size and SHA-256 with `keep_bytes=False`, for big
benchmarks). `mode` makes it fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from tests.fakes.gates import Gates


@dataclass
class StorageMode:
    key_refused: bool = False  # the token and the fallback both answer 401
    token_status: int = 200  # e.g. 500
    upload_status: int = 200  # the CDN upload (`/files/upload`) answers this
    fallback_status: int = 200  # the fallback (`/storage/upload/initiate`) answers this
    hang_upload: bool = False
    access_url_missing: bool = False


@dataclass
class StoredFile:
    route: str  # v3 | multipart | gcs
    name: str
    content_type: str
    size: int = 0
    sha256: str = ""
    data: bytes | None = None


@dataclass
class _Multipart:
    access_url: str
    name: str
    content_type: str
    parts: dict[int, bytes] = field(default_factory=dict)
    part_sizes: dict[int, int] = field(default_factory=dict)


class FakeFalStorage:
    def __init__(self, *, keep_bytes: bool = True, key_prefix: str = "Key ") -> None:
        self.keep_bytes = keep_bytes
        self.key_prefix = key_prefix
        self.mode = StorageMode()
        self.files: dict[str, StoredFile] = {}  # by access URL
        self.token_requests = 0
        self.upload_attempts: list[str] = []  # route of every upload request
        self._tokens: set[str] = set()
        self._multipart: dict[str, _Multipart] = {}
        self.gates = Gates()  # "upload": hold uploads (tests/fakes/gates.py)
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeFalStorage:
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/storage/auth/token", self._token)
        app.router.add_post("/files/upload", self._upload)
        app.router.add_post("/files/upload/multipart", self._multipart_create)
        app.router.add_put("/files/{fid}/{name}/multipart/{uid}/{n}", self._multipart_part)
        app.router.add_post("/files/{fid}/{name}/multipart/{uid}/complete", self._multipart_done)
        app.router.add_post("/storage/upload/initiate", self._initiate)
        app.router.add_put("/gcs/{fid}/{name}", self._gcs_put)
        app.router.add_get("/files/{fid}/{name}", self._download)
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

    def only_file(self) -> StoredFile:
        (stored,) = self.files.values()
        return stored

    # --- Helpers ---------------------------------------------------------------------------

    def _key_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith(self.key_prefix) and not self.mode.key_refused

    def _bearer_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[len("Bearer ") :] in self._tokens

    def _store(self, route: str, name: str, content_type: str, data: bytes) -> str:
        fid = secrets.token_hex(8)
        access_url = f"{self.base_url}/files/{fid}/{name}"
        self.files[access_url] = StoredFile(
            route=route,
            name=name,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data if self.keep_bytes else None,
        )
        return access_url

    @staticmethod
    def _name(request: web.Request) -> str:
        name = request.headers.get("X-Fal-File-Name", "upload.bin")
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "file"

    # --- Token -------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        if request.query.get("storage_type") != "fal-cdn-v3":
            return web.json_response({"detail": "unknown storage type"}, status=400)
        if not self._key_ok(request):
            return web.json_response({"detail": "No credentials"}, status=401)
        if self.mode.token_status != 200:
            return web.json_response({"detail": "refused"}, status=self.mode.token_status)
        token = secrets.token_urlsafe(16)
        self._tokens.add(token)
        expires = datetime.now(UTC) + timedelta(hours=1)
        return web.json_response(
            {
                "token": token,
                "token_type": "Bearer",
                "base_url": self.base_url,
                "expires_at": expires.isoformat(),
            }
        )

    # --- Single upload -----------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        self.upload_attempts.append("v3")
        if not self._bearer_ok(request):
            return web.json_response({"detail": "bad token"}, status=401)
        if self.mode.hang_upload:
            await self._stopping.wait()
        await self.gates.at("upload")
        if self.mode.upload_status != 200:
            return web.json_response({"detail": "storage failure"}, status=self.mode.upload_status)
        data = await request.read()
        access_url = self._store(
            "v3", self._name(request), request.headers.get("Content-Type", ""), data
        )
        if self.mode.access_url_missing:
            return web.json_response({"url": access_url})
        return web.json_response({"access_url": access_url})

    # --- Multipart -----------------------------------------------------------------------------

    async def _multipart_create(self, request: web.Request) -> web.Response:
        self.upload_attempts.append("multipart")
        if not self._bearer_ok(request):
            return web.json_response({"detail": "bad token"}, status=401)
        if self.mode.upload_status != 200:
            return web.json_response({"detail": "storage failure"}, status=self.mode.upload_status)
        fid, uid = secrets.token_hex(8), secrets.token_hex(8)
        name = self._name(request)
        access_url = f"{self.base_url}/files/{fid}/{name}"
        self._multipart[uid] = _Multipart(access_url, name, request.headers.get("Content-Type", ""))
        return web.json_response({"access_url": access_url, "uploadId": uid})

    async def _multipart_part(self, request: web.Request) -> web.Response:
        upload = self._multipart.get(request.match_info["uid"])
        if upload is None or not self._bearer_ok(request):
            return web.json_response({"detail": "unknown upload"}, status=404)
        number = int(request.match_info["n"])
        data = await request.read()
        upload.part_sizes[number] = len(data)
        if self.keep_bytes:
            upload.parts[number] = data
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return web.Response(status=200, headers={"ETag": f'"{etag}"'})

    async def _multipart_done(self, request: web.Request) -> web.Response:
        upload = self._multipart.pop(request.match_info["uid"], None)
        if upload is None or not self._bearer_ok(request):
            return web.json_response({"detail": "unknown upload"}, status=404)
        body = await request.json()
        numbers = sorted(int(p["partNumber"]) for p in body["parts"])
        if numbers != list(range(1, len(upload.part_sizes) + 1)):
            return web.json_response({"detail": "parts missing"}, status=400)
        data = b"".join(upload.parts[n] for n in numbers) if self.keep_bytes else None
        self.files[upload.access_url] = StoredFile(
            route="multipart",
            name=upload.name,
            content_type=upload.content_type,
            size=sum(upload.part_sizes.values()),
            sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
            data=data,
        )
        return web.json_response({"access_url": upload.access_url})

    # --- Fallback (storage_type=gcs) -------------------------------------------------------------

    async def _initiate(self, request: web.Request) -> web.Response:
        self.upload_attempts.append("gcs")
        if not self._key_ok(request):
            return web.json_response({"detail": "No credentials"}, status=401)
        if self.mode.fallback_status != 200:
            return web.json_response({"detail": "failure"}, status=self.mode.fallback_status)
        body = await request.json()
        fid = secrets.token_hex(8)
        name = self._name_of(body.get("file_name"))
        return web.json_response(
            {
                "upload_url": f"{self.base_url}/gcs/{fid}/{name}",
                "file_url": f"{self.base_url}/files/{fid}/{name}",
            }
        )

    @staticmethod
    def _name_of(value: object) -> str:
        name = value if isinstance(value, str) else "upload.bin"
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "file"

    async def _gcs_put(self, request: web.Request) -> web.Response:
        data = await request.read()
        fid, name = request.match_info["fid"], request.match_info["name"]
        self.files[f"{self.base_url}/files/{fid}/{name}"] = StoredFile(
            route="gcs",
            name=name,
            content_type=request.headers.get("Content-Type", ""),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data if self.keep_bytes else None,
        )
        return web.Response(status=200)

    async def _download(self, request: web.Request) -> web.Response:
        stored = self.files.get(f"{self.base_url}{request.path}")
        if stored is None or stored.data is None:
            return web.Response(status=404)
        return web.Response(body=stored.data, content_type=stored.content_type or None)
