"""`GET /healthz`: is the database answering and is the gateway connected?"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class HealthCheck:
    database: Callable[[], Awaitable[bool]]
    gateway: Callable[[], dict[str, Any]]


def health_routes(check: HealthCheck) -> list[web.RouteDef]:
    async def healthz(_: web.Request) -> web.Response:
        database_ok = await check.database()
        gateway = check.gateway()
        healthy = database_ok and bool(gateway.get("connected"))
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": {"ok": database_ok},
            "gateway": gateway,
        }
        return web.Response(
            status=200 if healthy else 503,
            body=json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    return [web.get("/healthz", healthz)]
