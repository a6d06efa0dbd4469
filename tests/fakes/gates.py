"""Gates: hold a fake's request at a named point until the test lets it go.

A kill-point test arms a gate (say, fal's answer to a submission), waits until the bot's
request reaches it (`await gate.reached.wait()`), kills the bot there, then releases the
gate so the fake's handler ends. `after` gates let the fake do its work first (fal
accepts the job, Discord creates the message) and hold only the answer: the bot dies
not knowing that it happened.
"""

from __future__ import annotations

import asyncio


class Gate:
    def __init__(self, name: str) -> None:
        self.name = name
        self.reached = asyncio.Event()
        self.passed = 0
        self._open = asyncio.Event()

    async def hold(self) -> None:
        self.passed += 1
        self.reached.set()
        await self._open.wait()

    def release(self) -> None:
        self._open.set()


class Gates:
    """A fake's gates by name; a name without an armed gate lets requests through."""

    def __init__(self) -> None:
        self._armed: dict[str, Gate] = {}

    def arm(self, name: str) -> Gate:
        gate = self._armed[name] = Gate(name)
        return gate

    async def at(self, name: str) -> None:
        gate = self._armed.get(name)
        if gate is not None and not gate._open.is_set():
            await gate.hold()

    def release_all(self) -> None:
        for gate in self._armed.values():
            gate.release()
