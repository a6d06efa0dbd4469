"""`POST /fal/webhook/{order_id}`: fal says a training ended.

The rules are `bot/services/training/webhooks.py`; this only reads the raw body, hands
it over with the headers, and turns the result into an answer. A refused delivery is
logged with its reason, never its body.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.errors import ServiceUnavailable
from bot.services.records import DatabaseError
from bot.services.training.webhooks import TrainingWebhooks, WebhookRefused
from bot.web.responses import json_response

log = logging.getLogger("bot.web")

MAX_WEBHOOK_BYTES = 256 * 1024  # a training's result is a few hundred bytes of JSON

_REFUSED_STATUS = {
    "unsigned": 401,
    "bad_body": 400,
    "unknown_order": 404,
    "wrong_order": 403,
    "busy": 409,  # the submission is still being recorded: fal retries later
}


def fal_webhook_routes(webhooks: TrainingWebhooks) -> list[web.RouteDef]:
    async def receive(request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
            log.warning("fal webhook refused", extra={"order_id": order_id, "reason": "too large"})
            return json_response({"error": "too large"}, 413)
        body = await request.read()  # also bounded by the server's client_max_size
        if len(body) > MAX_WEBHOOK_BYTES:
            log.warning("fal webhook refused", extra={"order_id": order_id, "reason": "too large"})
            return json_response({"error": "too large"}, 413)
        try:
            accepted = await webhooks.receive(order_id, request.headers, body)
        except WebhookRefused as refused:
            log.warning(
                "fal webhook refused",
                extra={"order_id": order_id, "kind": refused.kind, "reason": refused.reason},
            )
            return json_response({"error": refused.kind}, _REFUSED_STATUS[refused.kind])
        except (ServiceUnavailable, DatabaseError) as exc:
            log.warning(
                "fal webhook not handled now; fal retries",
                extra={"order_id": order_id, "reason": type(exc).__name__},
            )
            return json_response({"error": "unavailable", "retry": True}, 503)
        return json_response({"ok": True, "outcome": accepted.outcome})

    return [web.post(r"/fal/webhook/{order_id:[0-9A-Za-z_-]{1,64}}", receive)]
