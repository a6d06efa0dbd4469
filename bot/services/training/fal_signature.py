"""Is a webhook really from fal? The signature rule, and fal's keys kept at hand.

fal signs every webhook with ED25519 and sends four headers:

    X-Fal-Webhook-Request-Id   the fal request the delivery is about
    X-Fal-Webhook-User-Id      the fal account
    X-Fal-Webhook-Timestamp    Unix seconds when fal signed it
    X-Fal-Webhook-Signature    hex ED25519 signature

The signed bytes are, in UTF-8:

    "{request_id}\\n{user_id}\\n{timestamp}\\n{sha256_hex(raw_body)}"

so the body is covered by its hash, and a body changed in any byte fails. A delivery
counts when every header is there and well formed, its timestamp is within
`WINDOW_SECONDS` of now (either side: clocks drift), and one of fal's published keys
verifies the signature. The keys come from fal's JWKS, kept up to `KEYS_MAX_AGE`; when
no cached key verifies, the keys are fetched again once (fal may have rotated them),
but not more often than `REFETCH_AFTER`, so a flood of forged deliveries cannot turn
into a flood of requests to fal.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from Crypto.Signature import eddsa

from bot.clients.fal_jwks import PublicKey

WINDOW_SECONDS = 300
KEYS_MAX_AGE = 24 * 3600.0
REFETCH_AFTER = 30.0

REQUEST_ID = "X-Fal-Webhook-Request-Id"
USER_ID = "X-Fal-Webhook-User-Id"
TIMESTAMP = "X-Fal-Webhook-Timestamp"
SIGNATURE = "X-Fal-Webhook-Signature"
HEADERS = (REQUEST_ID, USER_ID, TIMESTAMP, SIGNATURE)
_MAX_HEADER = 256


class SignatureRefused(Exception):
    """Not a delivery from fal (unsigned, malformed, stale or forged). The message is the
    reason, safe to log: it never contains the body."""


@dataclass(frozen=True, slots=True)
class SignedDelivery:
    request_id: str
    user_id: str
    timestamp: int


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes fal signs."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def verify_with(keys: tuple[PublicKey, ...], message: bytes, signature: bytes) -> bool:
    """True when one of `keys` verifies `signature` over `message` (RFC 8032 Ed25519)."""
    for key in keys:
        try:
            verifier = eddsa.new(eddsa.import_public_key(key.raw), "rfc8032")
            verifier.verify(message, signature)
        except ValueError:
            continue
        return True
    return False


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise SignatureRefused(f"unsigned: no {name}")
    value = value.strip()
    if len(value) > _MAX_HEADER or not value.isprintable():
        raise SignatureRefused(f"malformed {name}")
    return value


def read_headers(
    headers: Mapping[str, str], *, now: float, window: int = WINDOW_SECONDS
) -> tuple[SignedDelivery, bytes]:
    """The signed fields and the signature bytes, once the headers are complete, well
    formed and the timestamp fresh. Raises `SignatureRefused`."""
    request_id, user_id, stamp, signature_hex = (_header(headers, n) for n in HEADERS)
    if not stamp.isascii() or not stamp.isdigit():
        raise SignatureRefused("malformed timestamp")
    timestamp = int(stamp)
    if abs(now - timestamp) > window:
        raise SignatureRefused(f"stale: timestamp {round(now - timestamp)} s away from now")
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise SignatureRefused("malformed signature (not hex)") from None
    if len(signature) != 64:
        raise SignatureRefused("malformed signature (not 64 bytes)")
    return SignedDelivery(request_id, user_id, timestamp), signature


class FalKeys:
    """fal's public keys, fetched when needed and kept up to `max_age` seconds."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[PublicKey, ...]]],
        *,
        max_age: float = KEYS_MAX_AGE,
        refetch_after: float = REFETCH_AFTER,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self.refetch_after = refetch_after
        self._monotonic = monotonic
        self._keys: tuple[PublicKey, ...] = ()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[PublicKey, ...]:
        """The cached keys, fetched first when there are none or they are too old."""
        async with self._lock:
            fetched = self._fetched_at
            if fetched is None or self._monotonic() - fetched > self.max_age:
                await self._refresh()
            return self._keys

    async def refreshed(self, seen: tuple[PublicKey, ...]) -> tuple[PublicKey, ...] | None:
        """Newer keys than `seen` (fetched again unless that happened less than
        `refetch_after` ago); None when there is nothing newer to try."""
        async with self._lock:
            if self._keys is not seen:  # someone else fetched meanwhile
                return self._keys
            fetched = self._fetched_at
            if fetched is not None and self._monotonic() - fetched < self.refetch_after:
                return None
            await self._refresh()
            return self._keys

    async def _refresh(self) -> None:
        self._keys = await self._fetch()  # FalUnavailable propagates: nothing to verify with
        self._fetched_at = self._monotonic()


class WebhookSignatures:
    """Checks fal webhook deliveries (the rule above)."""

    def __init__(
        self,
        keys: FalKeys,
        *,
        window: int = WINDOW_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.window = window
        self._wall_clock = wall_clock

    async def verify(self, headers: Mapping[str, str], body: bytes) -> SignedDelivery:
        """The delivery's signed fields. Raises `SignatureRefused`, or `FalUnavailable`
        when fal's keys cannot be fetched (the delivery may be genuine: fal retries)."""
        delivery, signature = read_headers(headers, now=self._wall_clock(), window=self.window)
        message = signed_message(
            delivery.request_id, delivery.user_id, headers[TIMESTAMP].strip(), body
        )
        keys = await self.keys.current()
        if verify_with(keys, message, signature):
            return delivery
        newer = await self.keys.refreshed(keys)
        if newer is not None and verify_with(newer, message, signature):
            return delivery
        raise SignatureRefused("forged: no fal key verifies the signature")
