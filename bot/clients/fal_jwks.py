"""fal's webhook signing keys: the JSON Web Key Set fal publishes (ED25519 keys).

Only the fetching and the JWKS format live here; which key signs what, and when a
webhook counts, is `bot/services/training/fal_signature.py`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import aiohttp

from bot.clients.fal import FalUnavailable

DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
MAX_JWKS_BYTES = 64 * 1024  # a handful of keys is a few hundred bytes


@dataclass(frozen=True, slots=True)
class PublicKey:
    kid: str | None
    raw: bytes  # the 32-byte ED25519 public key


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwks(body: bytes) -> tuple[PublicKey, ...]:
    """Every ED25519 key (`kty` OKP, `crv` Ed25519) of a JWKS document; others are
    skipped. Raises ValueError when the document is not a JWKS."""
    document = json.loads(body)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("not a JWKS document")
    found: list[PublicKey] = []
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        x = key.get("x")
        if not isinstance(x, str):
            continue
        try:
            raw = _b64url(x)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            kid = key.get("kid")
            found.append(PublicKey(kid if isinstance(kid, str) else None, raw))
    return tuple(found)


class FalJwksClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str = DEFAULT_JWKS_URL,
        *,
        timeout: float = 10.0,
        max_bytes: int = MAX_JWKS_BYTES,
    ) -> None:
        self._http = http
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._max_bytes = max_bytes

    async def fetch(self) -> tuple[PublicKey, ...]:
        """fal's current keys. Raises `FalUnavailable` (no answer, an error status, an
        oversized or malformed document)."""
        try:
            async with self._http.get(
                self.url, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise FalUnavailable(f"JWKS HTTP {response.status}")
                body = await response.content.read(self._max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FalUnavailable(f"JWKS {type(exc).__name__}") from None
        if len(body) > self._max_bytes:
            raise FalUnavailable("JWKS document too large")
        try:
            return parse_jwks(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FalUnavailable(f"JWKS malformed: {type(exc).__name__}") from None
