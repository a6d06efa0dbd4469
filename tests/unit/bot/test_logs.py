"""Logs: JSON off a terminal, secrets scrubbed from messages, extras and tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, configure_logging

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


@pytest.fixture
def stream() -> io.StringIO:
    buffer = io.StringIO()
    configure_logging("DEBUG", "auto", [SECRET], stream=buffer)
    return buffer


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_when_not_a_terminal(stream: io.StringIO) -> None:
    logging.getLogger("bot.test").info("hello %s", "world", extra={"ref": "ABC123"})
    (entry,) = lines(stream)
    assert entry["msg"] == "hello world"
    assert entry["level"] == "INFO" and entry["logger"] == "bot.test"
    assert entry["ref"] == "ABC123"


def test_secrets_are_scrubbed_everywhere(stream: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.warning("token is %s", SECRET, extra={"url": f"https://x/{SECRET}"})
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert SECRET not in text
    assert text.count(REDACTED) >= 3
    assert "ValueError" in lines(stream)[1]["exc"]  # type: ignore[operator]


def test_text_format_on_request() -> None:
    buffer = io.StringIO()
    configure_logging("INFO", "text", [], stream=buffer)
    logging.getLogger("bot.test").info("plain", extra={"ref": "X"})
    assert "plain" in buffer.getvalue() and "ref=X" in buffer.getvalue()
    assert not buffer.getvalue().startswith("{")


def test_discord_debug_logs_that_echo_payloads_stay_quiet(stream: io.StringIO) -> None:
    # discord.py logs every gateway event and HTTP body at DEBUG: interaction tokens
    # and custom_ids carrying link tokens. LOG_LEVEL=DEBUG must not let them through.
    logging.getLogger("discord.gateway").debug("WebSocket Event: %s", {"custom_id": "x"})
    logging.getLogger("discord.http").debug("POST with %s", "body")
    logging.getLogger("discord.client").debug("still shown")
    assert [entry["logger"] for entry in lines(stream)] == ["discord.client"]
