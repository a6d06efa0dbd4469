"""Domain errors: problems a user can understand and act on.

Services raise these without knowing who will read them. An error carries its data
(times as `Moment`s, amounts as attributes) and its text in parts, so each face renders
it in its own way: Discord shows a moment as a live timestamp (`<t:…:R>`), the web
pages and the logs as a plain UTC date. `message` is the plain rendering.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

# No 0/O or 1/I: a ref is read aloud and typed into support messages.
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_ref() -> str:
    """A short id that ties a message a user sees to the log line an operator reads."""
    return "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time inside a message. `relative`: read as "in 5 minutes" where the
    face can (Discord); otherwise as a date and time."""

    at: datetime
    style: Literal["relative", "absolute"] = "absolute"


Part = str | Moment
MomentFormatter = Callable[[Moment], str]


def plain_moment(moment: Moment) -> str:
    """A moment for faces without live timestamps (web pages, logs): UTC, to the minute."""
    return moment.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(parts: Sequence[Part], moment: MomentFormatter = plain_moment) -> str:
    return "".join(part if isinstance(part, str) else moment(part) for part in parts)


class UserFacingError(Exception):
    """Shown to the user as is (privately). Say what happened and what to do next."""

    def __init__(self, *parts: Part) -> None:
        self.parts: tuple[Part, ...] = parts
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return render(self.parts)

    @message.setter
    def message(self, text: str) -> None:
        self.parts = (text,)
        self.args = (text,)

    def render(self, moment: MomentFormatter) -> str:
        return render(self.parts, moment)


class NotConfigured(UserFacingError):
    """A feature needs settings the operator has not provided."""

    def __init__(self, feature: str, variables: Sequence[str]) -> None:
        names = ", ".join(variables)
        super().__init__(
            f"{feature} isn't available yet: the bot's operator has not configured it "
            f"({names}). A server admin can set it in the bot's settings."
        )
        self.feature = feature
        self.variables = tuple(variables)


class ServiceUnavailable(UserFacingError):
    """An outside service (database, fal, Are.na, Base RPC) did not answer."""

    def __init__(self, service: str, what_to_do: str = "Please try again in a minute.") -> None:
        super().__init__(f"{service} isn't answering right now. {what_to_do}")
        self.service = service
