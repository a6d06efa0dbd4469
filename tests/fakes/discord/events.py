"""Gateway events the emulator sends when its state changes (messages, channels, members)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES, GUILDS, MESSAGE_CONTENT
from .messages import EPHEMERAL

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


async def guild_event(
    emu: DiscordEmulator, event: str, data: Any, guild_id: int | None, *, intent: int = GUILDS
) -> bool:
    """Dispatch to the shard that owns the guild, if the bot asked for ``intent``."""
    if guild_id is None:
        return False
    shard = emu.gateway.shard_for_guild(guild_id)
    return await emu.gateway.dispatch(event, data, shard_id=shard, intent=intent)


async def message_event(emu: DiscordEmulator, event: str, message: dict[str, Any]) -> None:
    """MESSAGE_CREATE/UPDATE/DELETE as Discord sends them (never for ephemeral messages)."""
    if message["flags"] & EPHEMERAL:
        return
    world = emu.world
    channel = world.channels.get(int(message["channel_id"]))
    guild = world.guild_of(channel) if channel is not None else None
    shard = emu.gateway.shard_for_guild(guild.id) if guild else 0  # DMs go to shard 0
    if event == "MESSAGE_DELETE":
        data: dict[str, Any] = {"id": message["id"], "channel_id": message["channel_id"]}
    else:
        data = copy.deepcopy(message)
        author_id = int(message["author"]["id"])
        session = emu.gateway.sessions.get(shard)
        mentioned = any(u["id"] == str(emu.bot_user_id) for u in message["mentions"])
        if (
            session is not None
            and not session.intents & MESSAGE_CONTENT
            and guild is not None
            and author_id != emu.bot_user_id
            and not mentioned
        ):
            data.update(content="", embeds=[], attachments=[], components=[])
        if guild is not None and (author_id in guild.members or author_id == emu.bot_user_id):
            data["member"] = world.member_payload(guild, author_id, with_user=False)
    if guild is not None:
        data["guild_id"] = str(guild.id)
    intent = GUILD_MESSAGES if guild else DIRECT_MESSAGES
    await emu.gateway.dispatch(event, data, shard_id=shard, intent=intent)
