"""Defaults of the emulated world, and how tests describe guilds to seed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .models import DEFAULT_EVERYONE_PERMISSIONS

DEFAULT_APPLICATION_ID = 1001
DEFAULT_BOT_USER_ID = 1002
DEFAULT_GUILD_ID = 1
DEFAULT_CHANNEL_ID = 7
OWNER_ID, ALICE_ID, BOB_ID = 41, 42, 43
DEFAULT_USERS = {OWNER_ID: "owner", ALICE_ID: "alice", BOB_ID: "bob"}
# An app in under 100 guilds with the members and message-content intents switched on
# (GATEWAY_*_LIMITED) and the slash-command badge.
DEFAULT_APPLICATION_FLAGS = (1 << 15) | (1 << 19) | (1 << 23)


@dataclass
class GuildSetup:
    """How to seed one guild. Members must be user ids (unknown ones are created)."""

    id: int = DEFAULT_GUILD_ID
    name: str = "Emulated Guild"
    channels: Mapping[int, str] = field(default_factory=lambda: {7: "general", 8: "bot-log"})
    members: Sequence[int] = (OWNER_ID, ALICE_ID, BOB_ID)
    owner_id: int = OWNER_ID
    everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS


class ShardCounts(dict[int, int]):
    """Per-shard counters. ``counts[0]`` is shard 0; ``counts == 2`` compares the total."""

    @property
    def total(self) -> int:
        return sum(self.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.total == other
        return dict.__eq__(self, other)

    __hash__ = None
