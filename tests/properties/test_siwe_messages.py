"""Sign-In with Ethereum messages: anything pasted is parsed or refused with a SiweError;
what the bot builds parses back to the same fields."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.services.wallet.links import statement_for
from bot.services.wallet.siwe import SiweError, build_message, iso, parse_message, parse_time
from tests.properties.strategies import hostile_text

ADDRESS = "0x" + "ab" * 20
GOOD = build_message(
    domain="bot.example.org",
    uri="https://bot.example.org/link/abc",
    address=ADDRESS,
    statement="Link this wallet to Discord user id 42 for the LoRA trainer bot.",
    nonce="0123456789abcdef01234567",
    issued_at=datetime(2026, 1, 1, tzinfo=UTC),
    expires_at=datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
    request_id="tok_" + "x" * 28,
)


def parse_or_refuse(text: str) -> None:
    message = ""
    try:
        parse_message(text)
    except SiweError as exc:
        message = exc.message
        assert message


@given(hostile_text)
def test_arbitrary_text_is_parsed_or_refused(text: str) -> None:
    parse_or_refuse(text)


@given(st.data())
def test_a_damaged_real_message_is_parsed_or_refused(data: st.DataObject) -> None:
    lines = GOOD.split("\n")
    index = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["replace", "insert", "drop", "duplicate", "splice"]))
    noise = data.draw(hostile_text)
    if how == "replace":
        lines[index] = noise
    elif how == "insert":
        lines.insert(index, noise)
    elif how == "drop":
        del lines[index]
    elif how == "duplicate":
        lines.insert(index, lines[index])
    else:
        cut = data.draw(st.integers(0, len(lines[index])))
        lines[index] = lines[index][:cut] + noise + lines[index][cut:]
    parse_or_refuse("\n".join(lines))


hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,8}){1,2}", fullmatch=True)


@given(
    host=hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    address=st.binary(min_size=20, max_size=20),
    user_id=st.integers(1, 2**63),
    user_name=hostile_text,
    issued=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    ttl=st.integers(1, 3600),
)
def test_a_built_message_parses_back_to_its_fields(
    host: str,
    port: int | None,
    address: bytes,
    user_id: int,
    user_name: str,
    issued: datetime,
    ttl: int,
) -> None:
    domain = host if port is None else f"{host}:{port}"
    token = secrets.token_urlsafe(24)
    fields = {
        "domain": domain,
        "uri": f"https://{domain}/link/{token}",
        "address": "0x" + address.hex(),
        "statement": statement_for(user_id, user_name),
        "nonce": secrets.token_hex(12),
        "issued_at": issued,
        "expires_at": issued + timedelta(seconds=ttl),
        "request_id": token,
    }
    text = build_message(**fields)  # type: ignore[arg-type]
    message = parse_message(text)
    assert message.domain == domain
    assert str(message.uri) == fields["uri"]
    assert str(message.address).lower() == fields["address"]
    assert message.statement == fields["statement"]
    assert message.nonce == fields["nonce"]
    assert message.request_id == token
    assert int(message.chain_id) == 8453 and str(message.version) == "1"
    assert iso(parse_time(str(message.issued_at))) == iso(issued)
    assert iso(parse_time(str(message.expiration_time))) == iso(fields["expires_at"])  # type: ignore[arg-type]
