"""Acting as a Discord user: where an interaction happens, and sending it to the bot."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .interactions import EmulatedInteraction, base_payload, new_token, visible_to
from .models import Channel
from .world import World

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


class _ChannelGuild:
    def __repr__(self) -> str:
        return "<the channel's guild>"


CHANNEL_GUILD: Any = _ChannelGuild()
"""Default ``guild_id`` of the helpers: the guild of ``channel_id``."""

MessageRef = dict[str, Any] | int | str


def locate(world: World, user_id: int, channel_id: int, guild_id: Any) -> Channel:
    """The channel a user acts in; ``guild_id=None`` means the user's DM with the bot."""
    world.user(user_id)
    if guild_id is None:
        return world.dm_channel(user_id)
    channel = world.channels.get(channel_id)
    if channel is None:
        raise ValueError(f"unknown channel {channel_id}; add it with emu.add_channel()")
    if guild_id is not CHANNEL_GUILD and channel.guild_id != guild_id:
        raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
    guild = world.guild_of(channel)
    if guild is not None and user_id not in guild.members:
        raise ValueError(f"user {user_id} is not a member of guild {guild.id}")
    return channel


def stored_message(world: World, message: MessageRef, user_id: int) -> dict[str, Any]:
    """The current version of a message the user can see."""
    message_id = int(message["id"] if isinstance(message, dict) else message)
    stored = world.messages.get(message_id)
    if stored is None:
        raise ValueError(f"unknown (or deleted) message {message_id}")
    if not visible_to(stored, user_id):
        raise ValueError(f"message {message_id} is ephemeral and not visible to {user_id}")
    return stored


async def dispatch_interaction(
    emu: DiscordEmulator,
    ix_type: int,
    user_id: int,
    channel: Channel,
    data: dict[str, Any],
    *,
    source: dict[str, Any] | None = None,
    locale: str = "en-US",
) -> EmulatedInteraction:
    """Send INTERACTION_CREATE to the shard that owns the channel's guild."""
    interaction_id, token = emu.world.new_id(), new_token()
    payload = base_payload(
        emu.world,
        interaction_id=interaction_id,
        token=token,
        ix_type=ix_type,
        user_id=user_id,
        channel=channel,
        data=data,
        locale=locale,
    )
    if source is not None:
        payload["message"] = copy.deepcopy(source)
    ix = EmulatedInteraction(
        emu,
        interaction_id,
        token,
        ix_type,
        payload,
        channel.id,
        channel.guild_id,
        user_id,
        emu.clock.monotonic(),
        source_message_id=int(source["id"]) if source is not None else None,
    )
    emu.interactions[interaction_id] = ix
    emu.interactions_by_token[token] = ix
    shard = emu.gateway.shard_for_guild(channel.guild_id) if channel.guild_id else 0
    ix.dispatched_at = emu.clock.monotonic()
    if not await emu.gateway.dispatch("INTERACTION_CREATE", payload, shard_id=shard):
        raise RuntimeError(f"shard {shard} has no gateway session: is the bot connected?")
    return ix
