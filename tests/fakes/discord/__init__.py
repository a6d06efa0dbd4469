"""A local Discord API v10 emulator (REST + gateway) for testing a real discord.py client.

See README.md in this directory for what it supports.
"""

from .emulator import (
    ALICE_ID,
    BOB_ID,
    DEFAULT_APPLICATION_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    OWNER_ID,
    DiscordEmulator,
    GuildSetup,
    ShardCounts,
)
from .errors import DiscordError
from .harness import discord_py_pointed_at, running_client
from .interactions import EmulatedInteraction, SentModal
from .models import PERMISSIONS, StoredFile
from .records import CommandSync, EmulatorTimeout, RecordedRequest, Unhandled, Violation

__all__ = [
    "ALICE_ID",
    "BOB_ID",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_GUILD_ID",
    "OWNER_ID",
    "PERMISSIONS",
    "CommandSync",
    "DiscordEmulator",
    "DiscordError",
    "EmulatedInteraction",
    "EmulatorTimeout",
    "GuildSetup",
    "RecordedRequest",
    "SentModal",
    "ShardCounts",
    "StoredFile",
    "Unhandled",
    "Violation",
    "discord_py_pointed_at",
    "running_client",
]
