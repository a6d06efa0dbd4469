"""Times as the tables store them: ISO 8601 UTC with milliseconds and a `Z`, the format
of the web app's rows, so text order is time order. (Same as `bot.services.wallet.siwe.iso`.)"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utc_now() -> str:
    return iso(datetime.now(UTC))


def stored(dt: datetime) -> datetime:
    """`dt` as it reads back from a table (UTC, whole milliseconds)."""
    return parse_time(iso(dt))
