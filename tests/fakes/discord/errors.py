"""Error answers shaped like Discord's, carrying the contract violation to record (if any)."""

from __future__ import annotations

from typing import Any

from .spec import FieldError, discord_errors


class DiscordError(Exception):
    """An error answer, shaped like Discord's: ``{"message": ..., "code": ...}``.

    ``violation`` names the contract breach to record (None for errors that a
    correct client may legitimately hit, such as 403 Missing Permissions).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        violation: str | None = None,
        detail: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.violation = violation
        self.detail = detail or message
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        data.update(self.extra)
        return data


def invalid_form_body(errors: list[FieldError], kind: str) -> DiscordError:
    return DiscordError(
        400,
        50035,
        "Invalid Form Body",
        errors=discord_errors(errors),
        violation=kind,
        detail="; ".join(str(e) for e in errors),
    )


def missing_permissions(permission: str) -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions", detail=f"missing {permission}")
