"""fal's webhook signature rule, on fixed vectors.

VECTOR was generated once with the ED25519 key whose seed is bytes 0..31 (its public
key below) over fal's signed string; RFC 8032's first test vector checks the curve
implementation itself.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from bot.clients.fal import FalUnavailable
from bot.clients.fal_jwks import PublicKey, parse_jwks
from bot.services.training.fal_signature import (
    FalKeys,
    SignatureRefused,
    WebhookSignatures,
    read_headers,
    signed_message,
    verify_with,
)

PUBLIC = bytes.fromhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
BODY = b'{"request_id": "req-123", "status": "OK", "payload": {}}'
BODY_SHA256 = "8dd933a453be7096025d888b4d2fefbedda6fb26e34088e2140fd6c0d59d4dcd"
SIGNATURE = (
    "91db8e08ff931a7acb04a527db813d2e2d1edb87139ded72ffd766dd2abf3424"
    "420ad201976a8080b05e462fd87ddabfa63dc9db2f694c054a479f0116c52e0d"
)
STAMP = 1_700_000_000
HEADERS = {
    "X-Fal-Webhook-Request-Id": "req-123",
    "X-Fal-Webhook-User-Id": "user-456",
    "X-Fal-Webhook-Timestamp": str(STAMP),
    "X-Fal-Webhook-Signature": SIGNATURE,
}
KEY = PublicKey("k1", PUBLIC)
OTHER = PublicKey(
    "k0", bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
)


def test_the_signed_string() -> None:
    assert hashlib.sha256(BODY).hexdigest() == BODY_SHA256
    assert signed_message("req-123", "user-456", "1700000000", BODY) == (
        f"req-123\nuser-456\n1700000000\n{BODY_SHA256}".encode()
    )


def test_rfc8032_vector_1() -> None:
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert verify_with((OTHER,), b"", signature)
    assert not verify_with((OTHER,), b"x", signature)


def test_the_vector_verifies_and_any_change_fails() -> None:
    message = signed_message("req-123", "user-456", "1700000000", BODY)
    signature = bytes.fromhex(SIGNATURE)
    assert verify_with((KEY,), message, signature)
    assert verify_with((OTHER, KEY), message, signature)  # the right key among several
    assert not verify_with((OTHER,), message, signature)
    assert not verify_with((), message, signature)
    for changed in (
        signed_message("req-124", "user-456", "1700000000", BODY),
        signed_message("req-123", "user-457", "1700000000", BODY),
        signed_message("req-123", "user-456", "1700000001", BODY),
        signed_message("req-123", "user-456", "1700000000", BODY + b" "),
    ):
        assert not verify_with((KEY,), changed, signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_with((KEY,), message, flipped)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_the_window_pass(offset: int) -> None:
    delivery, signature = read_headers(HEADERS, now=STAMP + offset)
    assert (delivery.request_id, delivery.user_id, delivery.timestamp) == (
        "req-123",
        "user-456",
        STAMP,
    )
    assert signature.hex() == SIGNATURE


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_stale_timestamps_are_refused(offset: int) -> None:
    with pytest.raises(SignatureRefused, match="stale"):
        read_headers(HEADERS, now=STAMP + offset)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"X-Fal-Webhook-Signature": None}, "unsigned"),
        ({"X-Fal-Webhook-Request-Id": None}, "unsigned"),
        ({"X-Fal-Webhook-User-Id": " "}, "unsigned"),
        ({"X-Fal-Webhook-Timestamp": None}, "unsigned"),
        ({"X-Fal-Webhook-Timestamp": "1700000000.5"}, "malformed timestamp"),
        ({"X-Fal-Webhook-Timestamp": "-1700000000"}, "malformed timestamp"),
        ({"X-Fal-Webhook-Signature": "zz" * 64}, "not hex"),
        ({"X-Fal-Webhook-Signature": SIGNATURE[:-2]}, "not 64 bytes"),
        ({"X-Fal-Webhook-Request-Id": "x" * 300}, "malformed"),
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str | None], reason: str) -> None:
    headers = {k: v for k, v in {**HEADERS, **change}.items() if v is not None}
    with pytest.raises(SignatureRefused, match=reason):
        read_headers(headers, now=STAMP)


class Jwks:
    def __init__(self, *keys: PublicKey) -> None:
        self.keys = keys
        self.fetches = 0
        self.down = False

    async def fetch(self) -> tuple[PublicKey, ...]:
        self.fetches += 1
        if self.down:
            raise FalUnavailable("down")
        return self.keys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signatures(jwks: Jwks, clock: Clock) -> WebhookSignatures:
    keys = FalKeys(jwks.fetch, max_age=86400, refetch_after=30, monotonic=clock)
    return WebhookSignatures(keys, wall_clock=lambda: STAMP + 10)


async def test_keys_are_cached_for_a_day() -> None:
    jwks, clock = Jwks(KEY), Clock()
    check = signatures(jwks, clock)
    assert (await check.verify(HEADERS, BODY)).request_id == "req-123"
    clock.now += 86000
    await check.verify(HEADERS, BODY)
    assert jwks.fetches == 1
    clock.now += 500  # older than 24 h: fetched again
    await check.verify(HEADERS, BODY)
    assert jwks.fetches == 2


async def test_a_rotated_key_is_fetched_once_before_refusing() -> None:
    jwks, clock = Jwks(OTHER), Clock()
    check = signatures(jwks, clock)
    with pytest.raises(SignatureRefused, match="forged"):
        await check.verify(HEADERS, BODY)
    assert jwks.fetches == 1  # fetched just now: no second fetch for a forgery
    clock.now += 31
    jwks.keys = (OTHER, KEY)  # fal rotated its keys
    assert (await check.verify(HEADERS, BODY)).user_id == "user-456"
    assert jwks.fetches == 2
    with pytest.raises(SignatureRefused, match="forged"):
        await check.verify({**HEADERS, "X-Fal-Webhook-Signature": "00" * 64}, BODY)
    with pytest.raises(SignatureRefused, match="forged"):
        await check.verify(HEADERS, BODY.replace(b"OK", b"KO"))
    assert jwks.fetches == 2  # forgeries within 30 s of a fetch cost no request to fal


async def test_a_stale_delivery_is_refused_before_any_key_is_fetched() -> None:
    jwks = Jwks(KEY)
    check = WebhookSignatures(FalKeys(jwks.fetch), wall_clock=lambda: STAMP + 301)
    with pytest.raises(SignatureRefused, match="stale"):
        await check.verify(HEADERS, BODY)
    assert jwks.fetches == 0


async def test_unreachable_keys_are_not_a_refusal() -> None:
    jwks, clock = Jwks(KEY), Clock()
    jwks.down = True
    with pytest.raises(FalUnavailable):  # answered 503: fal retries
        await signatures(jwks, clock).verify(HEADERS, BODY)


def test_jwks_parsing() -> None:
    x = base64.urlsafe_b64encode(PUBLIC).rstrip(b"=").decode()
    document = {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"},
            {"kty": "OKP", "crv": "X25519", "x": x},
            {"kty": "RSA", "n": "abc", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "x": "short"},
            {"kty": "OKP", "crv": "Ed25519"},
        ]
    }
    assert parse_jwks(json.dumps(document).encode()) == (KEY,)
    with pytest.raises(ValueError, match="JWKS"):
        parse_jwks(b'{"no": "keys"}')
