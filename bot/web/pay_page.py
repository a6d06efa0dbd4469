"""The payment page: `/pay/<order>` sends the training payment from a browser wallet.

It switches the wallet to Base (chain 8453), sends `eth_sendTransaction` from the linked
wallet to the treasury for the quoted amount (after a part was paid: what is missing),
and reports the hash to `POST /pay/<order>`, which settles it exactly like a pasted
hash (`Checkout.settle`): once verified, the training starts by itself and Discord's
preview follows; the page never needs the user to go back and press a button.

Without a wallet in the browser (a phone), the page offers the same payment to any
wallet app: links that reopen the page in a wallet's browser (`bot.web.wallet_apps`),
and the EIP-681 request (`bot.services.payments.request`) as a tappable link and as a
QR code (`GET /pay/<order>/qr.svg`) to scan with another device.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.services.payments.request import payment_request_uri, qr_svg
from bot.services.payments.verifier import PaymentPartial, PaymentPending
from bot.services.training.checkout import AlreadyStarted, Checkout, CreditKept, Settlement
from bot.services.training.desk import PaymentDetails, TrainingDesk
from bot.web.link_page import page_url
from bot.web.responses import (
    SECURITY_HEADERS,
    json_body,
    json_response,
    page,
    refusal,
    static_file,
)
from bot.web.wallet_apps import as_json, wallet_app_links

ORDER_ID_MAX = 1024  # any printable id up to this length (the bot makes 32 hex digits)
PAGE_NAME = "payment page"


def outcome(result: Settlement) -> tuple[str, str]:
    """The page's status and sentence for a settlement."""
    if isinstance(result, PaymentPending):
        return "pending", result.message
    if isinstance(result, PaymentPartial):
        return "partial", result.message
    if isinstance(result, CreditKept):
        return "verified", (
            f"{result.payment.message} This request's training had already started, so the "
            "credit waits for your next /train."
        )
    if isinstance(result, AlreadyStarted):
        return "verified", "This payment was verified: the training has started. Back to Discord!"
    return "verified", (
        "Payment verified: the training is starting. Discord shows its progress in the "
        "channel where you ran /train; you'll be mentioned when it's done."
    )


def pay_routes(
    desk: TrainingDesk, checkout: Checkout, *, public_base_url: str | None = None
) -> list[web.RouteDef]:
    html = static_file("pay.html")

    def order_id(request: web.Request) -> str:
        value = request.match_info["order"]
        if not 1 <= len(value) <= ORDER_ID_MAX or not value.isprintable():
            raise web.HTTPNotFound()
        return value

    async def show_page(request: web.Request) -> web.Response:
        order_id(request)
        return page(html)

    async def payment(request: web.Request) -> PaymentDetails | web.Response:
        try:
            return await desk.payment_details(order_id(request))
        except web.HTTPException:
            raise
        except Exception as exc:
            return refusal(exc, page_name=PAGE_NAME)

    async def details(request: web.Request) -> web.Response:
        info = await payment(request)
        if isinstance(info, web.Response):
            return info
        url = page_url(public_base_url, request, "/pay/" + quote(info.order_id, safe=""))
        return json_response(
            {
                "trigger_word": info.trigger_word,
                "from": info.wallet,
                "to": info.treasury,
                "value": hex(info.wei),
                "eth": info.eth,
                "usd": info.usd,
                "chain_id": "0x2105",
                "expires_at": info.expires_at,
                "user": info.user_name,
                "server": info.guild_name,
                "request": payment_request_uri(info.treasury, info.wei),
                "wallet_apps": as_json(wallet_app_links(url)),
                "rest": info.rest,
            }
        )

    async def qr(request: web.Request) -> web.Response:
        info = await payment(request)
        if isinstance(info, web.Response):
            raise web.HTTPNotFound()
        return web.Response(
            body=qr_svg(payment_request_uri(info.treasury, info.wei)),
            content_type="image/svg+xml",
            headers=SECURITY_HEADERS,
        )

    async def report(request: web.Request) -> web.Response:
        body = await json_body(request)
        if body is None:
            return json_response({"error": "The request was not valid JSON."}, 400)
        tx_hash = body.get("tx_hash")
        if not isinstance(tx_hash, str) or len(tx_hash) > 200:
            return json_response({"error": "The request carried no transaction hash."}, 400)
        try:
            # In the background: submitting uploads the images (up to a minute); the
            # page's answer should not wait for it.
            result = await checkout.settle(order_id(request), tx_hash, background=True)
        except web.HTTPException:
            raise
        except Exception as exc:
            return refusal(exc, page_name=PAGE_NAME)
        status, message = outcome(result)
        return json_response({"status": status, "message": message})

    return [
        web.get("/pay/{order}", show_page),
        web.get("/pay/{order}/details", details),
        web.get("/pay/{order}/qr.svg", qr),
        web.post("/pay/{order}", report),
    ]
