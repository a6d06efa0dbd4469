"""Errors carry their data; each face renders their moments its own way."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.errors import Moment, UserFacingError, plain_moment
from bot.services.quota import QuotaExceeded, QuotaStatus
from cogs.common.errors import describe
from cogs.common.text import discord_moment

WHEN = datetime(2026, 12, 2, 10, 30, 15, tzinfo=UTC)


def test_plain_text_for_web_pages_and_logs() -> None:
    error = UserFacingError("Try again ", Moment(WHEN, "relative"), ".")
    assert error.message == "Try again 2026-12-02 10:30 UTC."
    assert str(error) == error.message
    assert plain_moment(Moment(WHEN)) == "2026-12-02 10:30 UTC"


def test_discord_renders_live_timestamps() -> None:
    error = UserFacingError("Frees up ", Moment(WHEN, "relative"), " (", Moment(WHEN), ")")
    seconds = int(WHEN.timestamp())
    assert error.render(discord_moment) == f"Frees up <t:{seconds}:R> (<t:{seconds}:f>)"
    message, unexpected = describe(error, "ABC123")
    assert message == f"Frees up <t:{seconds}:R> (<t:{seconds}:f>) (ref ABC123)"
    assert not unexpected


def test_a_quota_refusal_carries_when_the_next_slot_frees() -> None:
    refused = QuotaExceeded(QuotaStatus(limit=8, used=8, exempt=False, next_free_at=WHEN))
    assert refused.status.next_free_at == WHEN
    assert "<t:" not in refused.message and "2026-12-02 10:30 UTC" in refused.message


def test_a_message_set_later_replaces_the_parts() -> None:
    error = UserFacingError("first")
    error.message = "second"
    assert error.message == "second" and error.parts == ("second",) and str(error) == "second"
