"""spruceid's SIWE test vectors (tests/data/siwe-vectors, MIT) through our layer:
parse_message → check_fields → normalise_signature → recover_signer."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.services.wallet.siwe import (
    Expectations,
    SiweError,
    check_fields,
    normalise_signature,
    parse_message,
    parse_time,
    recover_signer,
)

VECTORS = Path(__file__).resolve().parents[2] / "data" / "siwe-vectors"
SNAKE = {
    "chainId": "chain_id",
    "issuedAt": "issued_at",
    "expirationTime": "expiration_time",
    "notBefore": "not_before",
    "requestId": "request_id",
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def text_from_fields(fields: dict[str, Any]) -> str:
    """Print an EIP-4361 message from raw fields without validating them (as a hostile
    client could), leaving a missing field empty."""
    lines = [
        f"{fields.get('domain', '')} wants you to sign in with your Ethereum account:",
        str(fields.get("address", "")),
        "",
    ]
    if fields.get("statement"):
        lines += [fields["statement"], ""]
    else:
        lines += [""]
    lines += [
        f"URI: {fields.get('uri', '')}",
        f"Version: {fields.get('version', '')}",
        f"Chain ID: {fields.get('chainId', '')}",
        f"Nonce: {fields.get('nonce', '')}",
        f"Issued At: {fields.get('issuedAt', '')}",
    ]
    for key, label in (
        ("expirationTime", "Expiration Time"),
        ("notBefore", "Not Before"),
        ("requestId", "Request ID"),
    ):
        if key in fields:
            lines.append(f"{label}: {fields[key]}")
    if fields.get("resources"):
        lines.append("Resources:")
        lines += [f"- {r}" for r in fields["resources"]]
    return "\n".join(lines)


def verify(text: str, signature: str, expected: Expectations, now: datetime) -> str:
    message = parse_message(text)
    check_fields(message, expected, now)
    signer = recover_signer(text, normalise_signature(signature))
    if signer != message.address:
        raise SiweError("signature not made by the address")
    return str(message.address)


@pytest.mark.parametrize(("name", "case"), load("parsing_positive.json").items())
def test_parsing_positive(name: str, case: dict[str, Any]) -> None:
    message = parse_message(case["message"])
    for key, value in case["fields"].items():
        got = getattr(message, SNAKE.get(key, key))
        if isinstance(got, list):
            got = [str(r) for r in got]
        elif got is not None and not isinstance(got, int):
            got = str(got)
        assert got == value, (name, key)


@pytest.mark.parametrize(("name", "text"), load("parsing_negative.json").items())
def test_parsing_negative(name: str, text: str) -> None:
    with pytest.raises(SiweError):
        parse_message(text)


@pytest.mark.parametrize(("name", "fields"), load("parsing_negative_objects.json").items())
def test_parsing_negative_objects(name: str, fields: dict[str, Any]) -> None:
    text = text_from_fields(fields)
    with pytest.raises(SiweError):
        parse_message(text)


def expectations_for(case: dict[str, Any]) -> Expectations:
    return Expectations(
        domain=case.get("domainBinding", case["domain"]),
        uri=case["uri"],
        chain_id=int(case["chainId"]),
        nonce=case.get("matchNonce"),
        # Age and future-dating limits are our own, stricter rules (tested elsewhere);
        # the vectors pin their own verification times years apart from issuance.
        max_age=None,
        max_future=None,
    )


def vector_time(case: dict[str, Any]) -> datetime:
    return parse_time(case.get("time") or re.sub(r"-02-31", "-02-28", case["issuedAt"]))


@pytest.mark.parametrize(("name", "case"), load("verification_positive.json").items())
def test_verification_positive(name: str, case: dict[str, Any]) -> None:
    text = text_from_fields(case)
    assert (
        verify(text, case["signature"], expectations_for(case), vector_time(case))
        == case["address"]
    )


@pytest.mark.parametrize(("name", "case"), load("verification_negative.json").items())
def test_verification_negative(name: str, case: dict[str, Any]) -> None:
    text = text_from_fields(case)
    with pytest.raises(SiweError):
        verify(text, case["signature"], expectations_for(case), vector_time(case))


@pytest.mark.parametrize(("name", "case"), load("parsing_positive.json").items())
def test_the_hostile_printer_is_faithful(name: str, case: dict[str, Any]) -> None:
    # The printer above must print valid fields exactly as EIP-4361 does, or the
    # negative-object tests would prove nothing.
    if case["fields"].get("scheme"):
        pytest.skip("the printer does not write schemes")
    assert text_from_fields(case["fields"]) == case["message"]
