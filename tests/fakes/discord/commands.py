"""Registered application commands, and the bulk syncs that registered them."""

from __future__ import annotations

from typing import Any

from .models import Channel
from .records import CommandSync


class CommandRegistry:
    def __init__(self) -> None:
        self.by_scope: dict[int | None, list[dict[str, Any]]] = {None: []}
        """Command payloads per guild id (None: global), as Discord returns them."""
        self.syncs: list[CommandSync] = []

    def get(self, guild_id: int | None) -> list[dict[str, Any]]:
        return self.by_scope.get(guild_id, [])

    def set(self, guild_id: int | None, commands: list[dict[str, Any]]) -> None:
        self.by_scope[guild_id] = commands

    def find(self, name: str, *, guild_id: int | None, type: int = 1) -> dict[str, Any]:
        """The command a user in ``guild_id`` (None: a DM) sees under ``name``."""
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.get(scope):
                if command["name"] == name and command.get("type", 1) == type:
                    return command
        known = {s: [c["name"] for c in cs] for s, cs in self.by_scope.items()}
        raise LookupError(
            f"no registered command {name!r} (type {type}) visible in guild {guild_id}; "
            f"registered (by guild, None=global): {known}"
        )


def check_context(command: dict[str, Any], channel: Channel) -> None:
    """Discord only shows a command where its ``contexts``/``dm_permission`` allow it."""
    in_dm = channel.guild_id is None
    contexts = command.get("contexts")
    if in_dm and command.get("dm_permission") is False and contexts is None:
        raise ValueError(f"/{command['name']} is guild-only (dm_permission false)")
    if contexts is not None and (1 if in_dm else 0) not in contexts:
        where = "bot DMs" if in_dm else "guilds"
        raise ValueError(f"/{command['name']} is not available in {where} (contexts {contexts})")
