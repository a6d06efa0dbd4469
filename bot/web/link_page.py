"""The signing page: `/link/<token>` connects a browser wallet and signs the message.

The page is static HTML and a small script; it talks to three JSON endpoints here:
`GET /link/<token>/status` (whether the link can still be used, asked before any
wallet is; for an open one also whom and which server it is for, and the links that
reopen the page in a phone's wallet app, `bot.web.wallet_apps`), `GET /link/<token>/message?address=0x…` (the exact text to sign) and
`POST /link/<token>` with `{"signature": "0x…"}`. The page never sends the message
back: the server verifies the text it stored. The JSON endpoints share one
per-address rate limit (`bot.web.ratelimit`); the token has its own attempt limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.services.wallet.links import LinkRefused, LinkResult, WalletLinker
from bot.web.ratelimit import SlidingWindowLimiter
from bot.web.responses import (
    SECURITY_HEADERS,
    json_body,
    json_response,
    page,
    refusal,
    static_file,
)
from bot.web.wallet_apps import as_json, wallet_app_links

log = logging.getLogger(__name__)

OnLinked = Callable[[LinkResult], Awaitable[None]]

_STATIC = {
    "link.js": "text/javascript",
    "link.css": "text/css",
    "pay.js": "text/javascript",
    "wallet-apps.js": "text/javascript",
}


def page_url(public_base_url: str | None, request: web.Request, path: str) -> str:
    """The page's own public address (as Discord linked it), for the wallet-app links."""
    base = public_base_url or f"{request.scheme}://{request.host}"
    return base.rstrip("/") + path


def link_routes(
    linker: WalletLinker,
    on_linked: OnLinked,
    limiter: SlidingWindowLimiter | None = None,
    *,
    public_base_url: str | None = None,
) -> list[web.RouteDef]:
    html = static_file("link.html")
    limit = (limiter or SlidingWindowLimiter()).guard

    async def show_page(_: web.Request) -> web.Response:
        return page(html)

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return web.Response(
            body=static_file(name), content_type=_STATIC[name], headers=SECURITY_HEADERS
        )

    async def status(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            link = await linker.open_link(token)
        except LinkRefused as refused:
            # Unknown, used, expired or out of attempts: the page says so, asks no wallet.
            return json_response({"open": False, "error": refused.message})
        except Exception as exc:
            return refusal(exc, page_name="link page")
        url = page_url(public_base_url, request, "/link/" + quote(token, safe=""))
        return json_response(
            {
                "open": True,
                "expires_at": link.expires_at.isoformat(),
                "user": link.user_name,
                "server": link.guild_name,
                "wallet_apps": as_json(wallet_app_links(url)),
            }
        )

    async def message(request: web.Request) -> web.Response:
        try:
            text = await linker.message_for(
                request.match_info["token"], request.query.get("address", "")
            )
        except Exception as exc:
            return refusal(exc, page_name="link page")
        return json_response({"message": text})

    async def submit(request: web.Request) -> web.Response:
        body = await json_body(request)
        if body is None:
            return json_response({"error": "The request was not valid JSON."}, 400)
        signature = body.get("signature")
        if not isinstance(signature, str) or len(signature) > 20_000:
            return json_response({"error": "The request carried no signature."}, 400)
        try:
            result = await linker.complete(request.match_info["token"], signature)
        except Exception as exc:
            return refusal(exc, page_name="link page")
        try:
            await on_linked(result)
        except Exception:
            # The wallet is linked; a failed Discord edit must not turn success into error.
            log.warning("could not announce the link in Discord", exc_info=True)
        return json_response({"ok": True, "address": result.address, "proof": result.proof})

    return [
        web.get("/link/{token}", show_page),
        web.get("/link/{token}/status", limit(status)),
        web.get("/link/{token}/message", limit(message)),
        web.post("/link/{token}", limit(submit)),
        web.get("/static/{name}", static),
    ]
