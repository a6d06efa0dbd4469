"""State of the emulated Discord: entities, permissions and their JSON payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import (
    DM,
    GUILD_TEXT,
    PERMISSIONS,
    Channel,
    EmulatorClock,
    Guild,
    Member,
    SnowflakeFactory,
    StoredFile,
    User,
    permission_bits,
)

ALL_PERMISSIONS = (1 << 53) - 1


class World:
    """Users, guilds, channels, messages and files. No networking in here."""

    def __init__(
        self, clock: EmulatorClock, *, application_id: int, bot: User, base_url: Callable[[], str]
    ) -> None:
        self.clock = clock
        self.new_id = SnowflakeFactory(lambda: self.clock.now())
        self.application_id = application_id
        self.bot = bot
        self._base_url = base_url
        self.users: dict[int, User] = {bot.id: bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.channel_order: dict[int, list[int]] = {}
        self.files: dict[int, StoredFile] = {}
        self.edit_counts: dict[int, int] = {}
        """How many times each message was edited (by any route)."""
        self.old_edit_counts: dict[int, int] = {}
        """Edits to each message once it was over an hour old (Discord caps these)."""
        self.old_message_edit_limit = 3
        """Edits Discord accepts to a message older than an hour before 30046
        (discord-api-docs#4413: "a few"; the exact number is not documented)."""

    # ------------------------------------------------------------------ lookup

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id}; add it with emu.add_user()") from None

    def guild_of(self, channel: Channel) -> Guild | None:
        return None if channel.guild_id is None else self.guilds.get(channel.guild_id)

    def root_channel(self, channel: Channel) -> Channel:
        """Threads take their permissions from their parent channel."""
        if channel.is_thread and channel.parent_id in self.channels:
            return self.channels[channel.parent_id]
        return channel

    def dm_channel(self, user_id: int) -> Channel:
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient_id == user_id:
                return channel
        channel = Channel(id=self.new_id(), name="", type=DM, recipient_id=user_id)
        self.channels[channel.id] = channel
        return channel

    def threads(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread]

    # ------------------------------------------------------------- permissions

    def permissions(self, user_id: int, channel: Channel | None) -> int:
        """Effective permissions of a user in a channel (guild base, then channel denials)."""
        if channel is None or channel.guild_id is None:
            return permission_bits(
                [
                    "view_channel",
                    "send_messages",
                    "embed_links",
                    "attach_files",
                    "read_message_history",
                    "add_reactions",
                    "use_external_emojis",
                ]
            )
        guild = self.guilds[channel.guild_id]
        if guild.owner_id == user_id:
            return ALL_PERMISSIONS
        bits = guild.everyone_permissions
        member = guild.members.get(user_id)
        role_ids = set(member.roles) if member else set()
        for role in guild.roles:
            if role.id in role_ids:
                bits |= role.permissions
        if bits & PERMISSIONS["administrator"]:
            return ALL_PERMISSIONS
        return bits & ~permission_bits(self.root_channel(channel).denied)

    def can(self, user_id: int, channel: Channel, permission: str) -> bool:
        return bool(self.permissions(user_id, channel) & PERMISSIONS[permission])

    # ---------------------------------------------------------------- payloads

    @property
    def base_url(self) -> str:
        return self._base_url()

    def user_payload(self, user_id: int) -> dict[str, Any]:
        return self.user(user_id).payload()

    def member_payload(
        self, guild: Guild, user_id: int, *, with_user: bool = True, channel: Channel | None = None
    ) -> dict[str, Any]:
        member = guild.members.get(user_id) or Member(user_id=user_id)
        data: dict[str, Any] = {
            "roles": [str(r) for r in member.roles],
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "joined_at": member.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user_payload(user_id)
        if channel is not None:
            data["permissions"] = str(self.permissions(user_id, channel))
        return data

    def channel_payload(self, channel: Channel) -> dict[str, Any]:
        if channel.type == DM:
            return {
                "id": str(channel.id),
                "type": DM,
                "last_message_id": _opt_str(channel.last_message_id),
                "flags": 0,
                "recipients": [self.user_payload(channel.recipient_id or 0)],
            }
        data: dict[str, Any] = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "parent_id": _opt_str(channel.parent_id),
            "last_message_id": _opt_str(channel.last_message_id),
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if channel.is_thread:
            data.update(
                owner_id=str(channel.owner_id),
                message_count=channel.message_count,
                member_count=1,
                total_message_sent=channel.message_count,
                thread_metadata={
                    "archived": channel.archived,
                    "locked": channel.locked,
                    "auto_archive_duration": channel.auto_archive_duration,
                    "archive_timestamp": channel.created_at,
                    "create_timestamp": channel.created_at,
                    "invitable": True,
                },
            )
            return data
        overwrites = []
        if channel.denied:
            overwrites.append(
                {
                    "id": str(channel.guild_id),
                    "type": 0,
                    "allow": "0",
                    "deny": str(permission_bits(channel.denied)),
                }
            )
        data.update(
            position=channel.position,
            permission_overwrites=overwrites,
            nsfw=False,
            topic=channel.topic,
        )
        return data

    def interaction_channel_payload(self, channel: Channel, user_id: int) -> dict[str, Any]:
        """The partial channel in an interaction: includes the invoker's ``permissions``."""
        data = self.channel_payload(channel)
        data["permissions"] = str(self.permissions(user_id, channel))
        return data

    def guild_create_payload(self, guild: Guild, *, all_members: bool = True) -> dict[str, Any]:
        """GUILD_CREATE. Without the GUILD_MEMBERS intent Discord only lists the bot itself."""
        channels = [
            self.channel_payload(c)
            for c in self.channels.values()
            if c.guild_id == guild.id and not c.is_thread
        ]
        threads = [
            self.channel_payload(c)
            for c in self.channels.values()
            if c.guild_id == guild.id and c.is_thread and not c.archived
        ]
        member_ids = [*guild.members]
        if self.bot.id not in guild.members:
            member_ids.append(self.bot.id)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.all_roles()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(member_ids),
            "members": [
                self.member_payload(guild, uid)
                for uid in member_ids
                if all_members or uid == self.bot.id
            ],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def guild_rest_payload(self, guild: Guild) -> dict[str, Any]:
        data = self.guild_create_payload(guild)
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "unavailable",
            "member_count",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
        ):
            data.pop(key, None)
        return data

    def add_text_channel(self, guild_id: int, channel_id: int, name: str) -> Channel:
        channel = Channel(
            id=channel_id,
            name=name,
            type=GUILD_TEXT,
            guild_id=guild_id,
            position=len(self.channels),
        )
        self.channels[channel_id] = channel
        return channel

    # ---------------------------------------------------------------- messages

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [
            self.messages[m] for m in self.channel_order.get(channel_id, []) if m in self.messages
        ]


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
