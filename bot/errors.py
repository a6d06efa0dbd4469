"""Domain errors: problems a user can understand and act on.

Services raise these without knowing about Discord; the one error handler
(`cogs.common.errors`) turns them into private messages with a reference id.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

# No 0/O or 1/I: a ref is read aloud and typed into support messages.
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_ref() -> str:
    """A short id that ties a message a user sees to the log line an operator reads."""
    return "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


class UserFacingError(Exception):
    """Shown to the user as is (privately). Say what happened and what to do next."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(UserFacingError):
    """A feature needs settings the operator has not provided."""

    def __init__(self, feature: str, variables: Sequence[str]) -> None:
        names = ", ".join(variables)
        super().__init__(
            f"{feature} isn't available yet: the bot's operator has not configured it "
            f"({names}). Ask a server admin to set it up."
        )
        self.feature = feature
        self.variables = tuple(variables)


class ServiceUnavailable(UserFacingError):
    """An outside service (database, fal, Are.na, Base RPC) did not answer."""

    def __init__(self, service: str, what_to_do: str = "Please try again in a minute.") -> None:
        super().__init__(f"{service} isn't answering right now. {what_to_do}")
        self.service = service
