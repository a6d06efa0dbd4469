"""What the emulator records for assertions, and a small primitive to wait on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Upload:
    """A file part of a multipart request (``files[n]``)."""

    field_name: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        name = self.field_name
        if name.startswith("files[") and name.endswith("]") and name[6:-1].isdigit():
            return int(name[6:-1])
        return None


@dataclass
class RecordedRequest:
    method: str
    path: str
    """Path relative to the API base, e.g. ``/channels/7/messages``."""
    route: str | None
    """The spec's path template, e.g. ``/channels/{channel_id}/messages`` (None if unknown)."""
    query: dict[str, str]
    json: Any
    """Parsed JSON body, or the parsed ``payload_json`` of a multipart body."""
    files: list[Upload]
    time: float
    """Emulator clock (monotonic seconds) when the request arrived."""
    status: int = 0
    response: Any = None

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.method} {self.path}{'?' + query if query else ''} -> {self.status}"


@dataclass
class Violation:
    """A breach of Discord's contract by the client under test."""

    kind: str
    """``schema``, ``query``, ``late_callback``, ``double_ack``, ``invalid_callback_type``,
    ``unknown_interaction``, ``expired_token``, ``webhook_before_ack``, ``empty_message``,
    ``content_too_long``, ``embed_too_large``, ``components``, ``bad_json``, ``gateway`` ..."""
    method: str
    path: str
    message: str
    body: Any = None

    def __str__(self) -> str:
        return f"[{self.kind}] {self.method} {self.path}: {self.message}"


@dataclass
class Unhandled:
    method: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.reason})"


@dataclass
class CommandSync:
    """One bulk overwrite (PUT) of application commands."""

    guild_id: int | None
    """None for global commands."""
    commands: list[dict[str, Any]]
    """The request body as sent."""
    time: float
    accepted: bool = True


@dataclass
class ChangeSignal:
    """Lets helpers wait for "something changed" and re-check a condition."""

    _event: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self, probe: Callable[[], T | None], timeout: float, what: str, context: Callable[[], str]
    ) -> T:
        """Return ``probe()`` once it is not None; fail the test after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            result = probe()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeout(f"timed out after {timeout}s waiting for {what}\n{context()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


class EmulatorTimeout(AssertionError):
    """A helper waited for the bot to do something and it did not happen."""
