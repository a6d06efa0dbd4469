"""fal's webhook signing, for the fakes: a test ED25519 key, its JWKS entry, and signed
deliveries in fal's format.

fal signs `"{request_id}\\n{user_id}\\n{timestamp}\\n{sha256_hex(body)}"` with ED25519 and
sends the hex signature in `X-Fal-Webhook-Signature`, beside `X-Fal-Webhook-Request-Id`,
`X-Fal-Webhook-User-Id` and `X-Fal-Webhook-Timestamp` (Unix seconds). Written here from
that description, independently of the bot's verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import aiohttp
from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccKey
from Crypto.Signature import eddsa

FAL_USER_ID = "fake-fal-user-7f3a"


class WebhookSigner:
    def __init__(self, seed: bytes | None = None, kid: str = "fake-fal-key-1") -> None:
        self.key: EccKey = (
            eddsa.import_private_key(seed) if seed is not None else ECC.generate(curve="ed25519")
        )
        self.kid = kid

    @property
    def public_raw(self) -> bytes:
        return bytes(self.key.public_key().export_key(format="raw"))

    def jwk(self) -> dict[str, str]:
        x = base64.urlsafe_b64encode(self.public_raw).rstrip(b"=").decode()
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "use": "sig"}

    def sign(self, request_id: str, user_id: str, timestamp: str, body: bytes) -> str:
        message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()])
        return eddsa.new(self.key, "rfc8032").sign(message.encode()).hex()

    def headers(
        self,
        request_id: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        user_id: str = FAL_USER_ID,
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": self.sign(request_id, user_id, stamp, body),
        }


def webhook_body(
    request_id: str, *, error: str | None = None, payload: dict[str, Any] | None = None
) -> bytes:
    """What fal POSTs when a queued request ends (`status` OK or ERROR)."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "gateway_request_id": request_id,
        "status": "ERROR" if error else "OK",
        "payload": payload if payload is not None else {},
    }
    if error:
        body["error"] = error
    return json.dumps(body).encode()


async def post(url: str, headers: dict[str, str], body: bytes) -> int:
    """One delivery, as fal makes it; the HTTP status the bot answered."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        await response.read()
        return response.status
