"""The signing page: `/link/<token>` connects a browser wallet and signs the message.

The page is static HTML and a small script; it talks to two JSON endpoints here:
`GET /link/<token>/message?address=0x…` (the exact text to sign) and
`POST /link/<token>` with `{"signature": "0x…"}`. The page never sends the message
back: the server verifies the text it stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot.errors import ServiceUnavailable, UserFacingError, new_ref
from bot.services.wallet.links import LinkResult, WalletLinker
from storage.db import DatabaseError

log = logging.getLogger(__name__)

OnLinked = Callable[[LinkResult], Awaitable[None]]

SECURITY_HEADERS = {
    # The token is in the URL: never leak it through a Referer header.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}

_STATIC = {
    "link.js": "text/javascript",
    "link.css": "text/css",
    "pay.js": "text/javascript",
}


def _static(name: str) -> bytes:
    return resources.files("bot.web").joinpath("static", name).read_bytes()


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body),
        content_type="application/json",
        headers=SECURITY_HEADERS,
    )


def _refusal(exc: Exception) -> web.Response:
    if isinstance(exc, ServiceUnavailable):
        return _json({"error": exc.message, "retry": True}, 503)
    if isinstance(exc, UserFacingError):
        return _json({"error": exc.message}, 400)
    if isinstance(exc, DatabaseError):
        ref = new_ref()
        log.error("link page database error", extra={"ref": ref}, exc_info=exc)
        return _json(
            {
                "error": f"The bot's database isn't answering. Try again in a minute (ref {ref}).",
                "retry": True,
            },
            503,
        )
    ref = new_ref()
    log.error("link page failed", extra={"ref": ref}, exc_info=exc)
    return _json({"error": f"Something went wrong (ref {ref}). Please try again."}, 500)


def link_routes(linker: WalletLinker | None, on_linked: OnLinked) -> list[web.RouteDef]:
    page = _static("link.html")

    async def show_page(_: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", headers=SECURITY_HEADERS)

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return web.Response(
            body=_static(name), content_type=_STATIC[name], headers=SECURITY_HEADERS
        )

    async def message(request: web.Request) -> web.Response:
        if linker is None:
            return _json({"error": "Wallet linking is not configured on this bot."}, 503)
        try:
            text = await linker.message_for(
                request.match_info["token"], request.query.get("address", "")
            )
        except Exception as exc:
            return _refusal(exc)
        return _json({"message": text})

    async def submit(request: web.Request) -> web.Response:
        if linker is None:
            return _json({"error": "Wallet linking is not configured on this bot."}, 503)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json({"error": "The request was not valid JSON."}, 400)
        signature = body.get("signature") if isinstance(body, dict) else None
        if not isinstance(signature, str) or len(signature) > 20_000:
            return _json({"error": "The request carried no signature."}, 400)
        try:
            result = await linker.complete(request.match_info["token"], signature)
        except Exception as exc:
            return _refusal(exc)
        try:
            await on_linked(result)
        except Exception:
            # The wallet is linked; a failed Discord edit must not turn success into error.
            log.warning("could not announce the link in Discord", exc_info=True)
        return _json({"ok": True, "address": result.address, "proof": result.proof})

    return [
        web.get("/link/{token}", show_page),
        web.get("/link/{token}/message", message),
        web.post("/link/{token}", submit),
        web.get("/static/{name}", static),
    ]
