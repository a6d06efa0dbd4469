"""How every page of the bot's web server answers: the same headers, JSON bodies and
error mapping (what the Discord side does in `cogs/common/errors.py`, for browsers).

Errors render their moments as plain UTC dates: a browser shows no Discord markup.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from aiohttp import web

from bot.errors import NotConfigured, ServiceUnavailable, UserFacingError, new_ref
from bot.services.records import DatabaseError

log = logging.getLogger("bot.web")

SECURITY_HEADERS = {
    # Tokens and order ids are in URLs: never leak them through a Referer header.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def static_file(name: str) -> bytes:
    return resources.files("bot.web").joinpath("static", name).read_bytes()


def page(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/html", headers=SECURITY_HEADERS)


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body),
        content_type="application/json",
        headers=SECURITY_HEADERS,
    )


async def json_body(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when it is not one."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def refusal(exc: Exception, *, page_name: str) -> web.Response:
    """The answer for anything a page's handler raised, with a ref in the logs."""
    if isinstance(exc, ServiceUnavailable):
        return json_response({"error": exc.message, "retry": True}, 503)
    if isinstance(exc, NotConfigured):
        return json_response({"error": exc.message}, 503)
    if isinstance(exc, UserFacingError):
        return json_response({"error": exc.message}, 400)
    ref = new_ref()
    if isinstance(exc, DatabaseError):
        log.error("%s: database error", page_name, extra={"ref": ref}, exc_info=exc)
        return json_response(
            {
                "error": f"The bot's database isn't answering. Try again in a minute (ref {ref}).",
                "retry": True,
            },
            503,
        )
    log.error("%s failed", page_name, extra={"ref": ref}, exc_info=exc)
    return json_response({"error": f"Something went wrong (ref {ref}). Please try again."}, 500)
