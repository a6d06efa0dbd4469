"""The payment page: `/pay/<order>` sends the training payment from a browser wallet.

It switches the wallet to Base (chain 8453), sends `eth_sendTransaction` from the linked
wallet to the treasury for the quoted amount, and reports the hash to
`POST /pay/<order>`, which checks it on Base exactly like a pasted hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from aiohttp import web

from bot.services.payments.verifier import PaymentPending
from bot.services.training.desk import TrainingDesk
from bot.web.link_page import SECURITY_HEADERS, _json, _refusal, _static

_ORDER = re.compile(r"[0-9a-f]{32}")


def pay_routes(desk: Callable[[], TrainingDesk | None]) -> list[web.RouteDef]:
    page = _static("pay.html")

    def order_id(request: web.Request) -> str:
        value = request.match_info["order"]
        if not _ORDER.fullmatch(value):
            raise web.HTTPNotFound()
        return value

    async def show_page(request: web.Request) -> web.Response:
        order_id(request)
        return web.Response(body=page, content_type="text/html", headers=SECURITY_HEADERS)

    async def details(request: web.Request) -> web.Response:
        service = desk()
        if service is None:
            return _json({"error": "Training is not configured on this bot."}, 503)
        try:
            info = await service.payment_details(order_id(request))
        except Exception as exc:
            return _refusal(exc)
        return _json(
            {
                "trigger_word": info.trigger_word,
                "from": info.wallet,
                "to": info.treasury,
                "value": hex(info.wei),
                "eth": info.eth,
                "usd": info.usd,
                "chain_id": "0x2105",
                "expires_at": info.expires_at,
            }
        )

    async def report(request: web.Request) -> web.Response:
        service = desk()
        if service is None:
            return _json({"error": "Training is not configured on this bot."}, 503)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json({"error": "The request was not valid JSON."}, 400)
        tx_hash = body.get("tx_hash") if isinstance(body, dict) else None
        if not isinstance(tx_hash, str) or len(tx_hash) > 200:
            return _json({"error": "The request carried no transaction hash."}, 400)
        try:
            result = await service.pay_from_page(order_id(request), tx_hash)
        except Exception as exc:
            return _refusal(exc)
        if isinstance(result, PaymentPending):
            return _json({"status": "pending", "message": result.message})
        return _json(
            {
                "status": "verified",
                "message": result.message
                + " Go back to Discord and press “Check payment” to start the training.",
            }
        )

    return [
        web.get("/pay/{order}", show_page),
        web.get("/pay/{order}/details", details),
        web.post("/pay/{order}", report),
    ]
