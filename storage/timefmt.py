"""Times as the tables store them: ISO 8601 UTC with milliseconds and a `Z`, the format
of the web app's rows, so text order is time order. The one definition of that format:
everything else (`bot.services.wallet.siwe` included) imports it from here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

# What services take as `clock=`: the current time, aware and in UTC (tests pass a fake).
Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    """The default `Clock`: now, in UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def read_time(value: object) -> datetime | None:
    """A time read from a row anyone may have written (the web app, an older bot, a
    hand edit): any ISO 8601 form, UTC when it names no zone; None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def utc_now() -> str:
    return iso(utc_clock())


def stored(dt: datetime) -> datetime:
    """`dt` as it reads back from a table (UTC, whole milliseconds)."""
    return parse_time(iso(dt))
