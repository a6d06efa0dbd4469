"""The REST front door: recording, auth, body parsing, spec validation, injected 429s, routing."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from tests.fakes.gates import Gate

from . import spec
from .errors import DiscordError, invalid_form_body
from .records import RecordedRequest, Unhandled, Upload

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class RestRequest:
    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: list[Upload]

    def param(self, name: str) -> int:
        """A snowflake path parameter as int (404 if it is not a number)."""
        value = self.params[name]
        if not value.isdigit():
            raise DiscordError(404, 0, "404: Not Found")
        return int(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        return default if value is None else value.lower() in ("true", "1")

    @property
    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}


@dataclass
class Reply:
    status: int = 200
    body: Any = None


Handler = Callable[["DiscordEmulator", RestRequest], Awaitable[Reply]]
RejectionHook = Callable[["DiscordEmulator", RestRequest, DiscordError], None]
ROUTES: dict[tuple[str, str], Handler] = {}
REJECTION_HOOKS: dict[tuple[str, str], RejectionHook] = {}
NO_AUTH_PREFIXES = ("/webhooks/", "/interactions/")


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a handler for a spec operation (the template must exist in the spec)."""
    if not spec.has_operation(method, template):
        raise ValueError(f"{method} {template} is not an operation of Discord's OpenAPI spec")

    def register(handler: Handler) -> Handler:
        ROUTES[(method, template)] = handler
        return handler

    return register


def on_rejected(method: str, template: str) -> Callable[[RejectionHook], RejectionHook]:
    """Register a hook told about error answers on a route (including failed validation)."""

    def register(hook: RejectionHook) -> RejectionHook:
        REJECTION_HOOKS[(method, template)] = hook
        return hook

    return register


@dataclass
class RateLimitRule:
    method: str
    route: str
    remaining: int
    retry_after: float
    is_global: bool
    scope: str

    def matches(self, method: str, path: str, template: str | None) -> bool:
        return self.method == method and self.route in (path, template) and self.remaining > 0


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if body is None and status == 204:
        return web.Response(status=204, headers=headers)
    return web.Response(
        status=status, body=json.dumps(body).encode(), headers={**JSON_HEADERS, **(headers or {})}
    )


@dataclass
class HoldRule:
    """Hold matching requests at a gate: "before" Discord acts on them, or "after" it did
    (the message exists, the answer is held). See `DiscordEmulator.hold`."""

    method: str
    route: str
    when: str
    gate: Gate

    def matches(self, method: str, path: str, template: str | None) -> bool:
        return self.method == method and self.route in (path, template)


class RestApi:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.rate_limits: list[RateLimitRule] = []
        self.holds: list[HoldRule] = []

    # ------------------------------------------------------------------ entry

    async def handle(self, request: web.Request) -> web.Response:
        emu = self.emu
        raw = request.raw_path.split("?", 1)[0]
        path = raw[len(API_PREFIX) :] if raw.startswith(API_PREFIX + "/") else raw
        path = "/" + "/".join(_unquote(p) for p in path.strip("/").split("/"))
        query = dict(request.query)
        matched = spec.match_path(path) if raw.startswith(API_PREFIX + "/") else None
        template = matched[0] if matched else None
        record = RecordedRequest(
            request.method, path, template, query, None, [], emu.clock.monotonic()
        )
        emu.requests.append(record)
        try:
            record.json, record.files = await _read_body(request)
            await self._hold(request.method, path, template, "before")
            reply = await self._route(request, record, matched)
            await self._hold(request.method, path, template, "after")
            status, body, headers = reply.status, reply.body, None
        except DiscordError as err:
            status, body, headers = err.status, err.body(), err.headers
            if err.violation:
                emu.add_violation(err.violation, request.method, path, err.detail, record.json)
        except Exception as exc:
            # A bug in the emulator, not in the client: fail the test loudly (unhandled), but
            # answer 400 rather than 500, which discord.py would retry for ~16 s.
            _log.exception("emulator error on %s %s", request.method, path)
            emu.unhandled.append(Unhandled(request.method, path, f"emulator error: {exc!r}"))
            status, body, headers = 400, {"message": f"emulator error: {exc!r}", "code": 0}, None
        record.status, record.response = status, body
        emu.changed.notify()
        return json_response(status, body, headers)

    async def _route(
        self,
        request: web.Request,
        record: RecordedRequest,
        matched: tuple[str, dict[str, str]] | None,
    ) -> Reply:
        emu, method, path = self.emu, record.method, record.path
        if matched is None:
            emu.unhandled.append(Unhandled(method, path, "no such route in Discord's API v10"))
            raise DiscordError(404, 0, "404: Not Found")
        template, params = matched
        if not spec.has_operation(method, template):
            emu.unhandled.append(Unhandled(method, path, f"method not allowed on {template}"))
            raise DiscordError(405, 0, "405: Method Not Allowed")
        rest_request = RestRequest(
            method, path, template, params, record.query, record.json, record.files
        )
        try:
            self._check_auth(request, path)
            self._check_rate_limit(method, path, template)
            self._validate(request, record, template)
            handler = ROUTES.get((method, template))
            if handler is None:
                emu.unhandled.append(Unhandled(method, path, f"{template} is not emulated"))
                raise DiscordError(404, 0, "404: Not Found")
            return await handler(emu, rest_request)
        except DiscordError as err:
            hook = REJECTION_HOOKS.get((method, template))
            if hook is not None and err.status != 429:
                hook(emu, rest_request, err)
            raise

    async def _hold(self, method: str, path: str, template: str | None, when: str) -> None:
        for rule in self.holds:
            if rule.when == when and rule.matches(method, path, template):
                await rule.gate.hold()

    # ----------------------------------------------------------------- checks

    def _check_auth(self, request: web.Request, path: str) -> None:
        if path.startswith(NO_AUTH_PREFIXES):
            return
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bot "):
            raise DiscordError(
                401,
                0,
                "401: Unauthorized",
                violation="auth",
                detail=f"Authorization header is {header!r}, expected 'Bot <token>'",
            )
        if self.emu.token is not None and header != f"Bot {self.emu.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    def _check_rate_limit(self, method: str, path: str, template: str) -> None:
        for rule in self.rate_limits:
            if rule.matches(method, path, template):
                rule.remaining -= 1
                raise rate_limited(rule)

    def _validate(self, request: web.Request, record: RecordedRequest, template: str) -> None:
        method = record.method
        errors = spec.validate_query(method, template, record.query)
        if errors:
            raise invalid_form_body(errors, "query")
        if not spec.body_schema_exists(method, template):
            return
        if record.json is None:
            if not record.files and spec.body_required(method, template):
                raise DiscordError(
                    400,
                    50109,
                    "The request body contains invalid JSON.",
                    violation="schema",
                    detail="request body is required",
                )
            return
        media = (
            "multipart/form-data"
            if request.content_type.startswith("multipart/")
            else ("application/json")
        )
        errors = spec.validate_body(method, template, media, record.json)
        if errors:
            raise invalid_form_body(errors, "schema")


def rate_limited(rule: RateLimitRule) -> DiscordError:
    """A 429 the way Discord sends it (body and headers), see discord.http.HTTPClient.request."""
    headers = {
        "Retry-After": str(math.ceil(rule.retry_after)),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
        "X-RateLimit-Bucket": "emulated-" + rule.route.strip("/").replace("/", "-"),
        "X-RateLimit-Scope": rule.scope,
        # discord.py treats a 429 without a Via header as a Cloudflare ban.
        "Via": "1.1 google",
    }
    if rule.is_global:
        headers["X-RateLimit-Global"] = "true"
    return DiscordError(
        429,
        0,
        "You are being rate limited.",
        extra={"retry_after": rule.retry_after, "global": rule.is_global},
        headers=headers,
    )


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if not request.body_exists:
        return None, []
    if request.content_type.startswith("multipart/"):
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordError(
            400,
            50109,
            "The request body contains invalid JSON.",
            violation="bad_json",
            detail=raw[:200].decode(errors="replace"),
        ) from None


async def _read_multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    reader = await request.multipart()
    payload: Any = None
    uploads: list[Upload] = []
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        name = part.name or ""
        data = await part.read()
        if name == "payload_json":
            try:
                payload = json.loads(data)
            except ValueError:
                raise DiscordError(
                    400,
                    50109,
                    "The request body contains invalid JSON.",
                    violation="bad_json",
                    detail="payload_json",
                ) from None
        elif part.filename is not None:
            content_type = part.headers.get("Content-Type")
            uploads.append(Upload(name, part.filename, content_type, bytes(data)))
        else:
            payload = payload if payload is not None else {}
            if isinstance(payload, dict):
                payload.setdefault(name, data.decode())
    return payload, uploads


def _unquote(segment: str) -> str:
    return unquote(segment)
