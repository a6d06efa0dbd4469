"""REST: channels, messages, threads, reactions, typing, DM channels."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from . import events
from .errors import DiscordError, missing_permissions
from .messages import HAS_THREAD, check_message_body, create_message, delete_message, edit_message
from .models import DM, PRIVATE_THREAD, PUBLIC_THREAD, Channel
from .rest import Reply, RestRequest, route

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


def channel_or_404(emu: DiscordEmulator, channel_id: int) -> Channel:
    channel = emu.world.channels.get(channel_id)
    if channel is None:
        raise DiscordError(404, 10003, "Unknown Channel")
    return channel


def _channel(emu: DiscordEmulator, req: RestRequest) -> Channel:
    channel = channel_or_404(emu, req.param("channel_id"))
    if channel.guild_id is not None and not emu.world.can(emu.bot_user_id, channel, "view_channel"):
        raise DiscordError(403, 50001, "Missing Access")
    return channel


def _message(emu: DiscordEmulator, channel: Channel, req: RestRequest) -> dict[str, Any]:
    message = emu.world.messages.get(req.param("message_id"))
    if message is None or message["channel_id"] != str(channel.id) or message["flags"] & 64:
        raise DiscordError(404, 10008, "Unknown Message")
    return message


def require(emu: DiscordEmulator, channel: Channel, permission: str) -> None:
    if channel.guild_id is not None and not emu.world.can(emu.bot_user_id, channel, permission):
        raise missing_permissions(permission)


def check_can_send(emu: DiscordEmulator, channel: Channel, *, with_files: bool) -> None:
    """Permission and state checks Discord makes before posting into a channel."""
    if channel.type == DM:
        user = emu.world.users.get(channel.recipient_id or 0)
        if user is not None and user.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        return
    require(emu, channel, "send_messages_in_threads" if channel.is_thread else "send_messages")
    if with_files:
        require(emu, channel, "attach_files")
    if channel.is_thread and channel.locked:
        raise DiscordError(400, 50083, "Thread is archived")


@route("GET", "/channels/{channel_id}")
async def get_channel(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body=emu.world.channel_payload(_channel(emu, req)))


@route("PATCH", "/channels/{channel_id}")
async def patch_channel(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    body = req.body
    if channel.is_thread:
        if channel.owner_id != emu.bot_user_id:
            require(emu, channel, "manage_threads")
        channel.archived = bool(body.get("archived", channel.archived))
        channel.locked = bool(body.get("locked", channel.locked))
        channel.auto_archive_duration = body.get("auto_archive_duration") or (
            channel.auto_archive_duration
        )
    else:
        require(emu, channel, "manage_channels")
        channel.topic = body.get("topic", channel.topic)
    channel.name = body.get("name") or channel.name
    payload = emu.world.channel_payload(channel)
    await events.guild_event(
        emu, "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", payload, channel.guild_id
    )
    return Reply(body=payload)


@route("POST", "/channels/{channel_id}/typing")
async def typing(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    check_can_send(emu, channel, with_files=False)
    return Reply(status=204)


# ---------------------------------------------------------------------- messages


@route("GET", "/channels/{channel_id}/messages")
async def list_messages(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    require(emu, channel, "read_message_history")
    messages = [m for m in emu.world.channel_messages(channel.id) if not m["flags"] & 64]
    limit = int(req.query.get("limit", "50"))
    if "after" in req.query:
        after = int(req.query["after"])
        messages = [m for m in messages if int(m["id"]) > after][:limit]
    elif "before" in req.query:
        before = int(req.query["before"])
        messages = [m for m in messages if int(m["id"]) < before][-limit:]
    else:
        messages = messages[-limit:]
    return Reply(body=list(reversed(messages)))


@route("POST", "/channels/{channel_id}/messages")
async def post_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    check_message_body(req.body, req.uploads, creating=True)
    check_can_send(emu, channel, with_files=bool(req.uploads))
    if channel.is_thread and channel.archived:
        channel.archived = False
    earlier = _same_nonce(emu, channel.id, req.body)
    if earlier is not None:
        # enforce_nonce: the same author's message with this nonce in the last few
        # minutes is returned and no new message is created.
        return Reply(body=earlier)
    message = create_message(emu.world, channel, req.body, req.uploads, author_id=emu.bot_user_id)
    emu.note_message_source(message, req.body)
    await events.message_event(emu, "MESSAGE_CREATE", message)
    return Reply(body=message)


NONCE_WINDOW = datetime.timedelta(minutes=5)


def _same_nonce(
    emu: DiscordEmulator, channel_id: int, body: dict[str, Any]
) -> dict[str, Any] | None:
    nonce = body.get("nonce")
    if nonce is None or not body.get("enforce_nonce"):
        return None
    since = emu.world.clock.now() - NONCE_WINDOW
    for message in reversed(emu.world.channel_messages(channel_id)):
        if (
            message.get("nonce") == nonce
            and message["author"]["id"] == str(emu.bot_user_id)
            and datetime.datetime.fromisoformat(message["timestamp"]) >= since
        ):
            return message
    return None


def _check_old_message_edit(emu: DiscordEmulator, message: dict[str, Any]) -> None:
    """Discord refuses further edits to a message older than an hour after a few."""
    age = emu.world.clock.now() - datetime.datetime.fromisoformat(message["timestamp"])
    if age < datetime.timedelta(hours=1):
        return
    message_id = int(message["id"])
    done = emu.world.old_edit_counts.get(message_id, 0)
    if done >= emu.world.old_message_edit_limit:
        raise DiscordError(
            400,
            30046,
            "Maximum number of edits to messages older than 1 hour reached. Try again later.",
        )
    emu.world.old_edit_counts[message_id] = done + 1


@route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    require(emu, channel, "read_message_history")
    return Reply(body=_message(emu, channel, req))


@route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def patch_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    message = _message(emu, channel, req)
    if message["author"]["id"] != str(emu.bot_user_id):
        raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
    check_message_body(req.body, req.uploads, creating=False)
    if req.uploads:
        require(emu, channel, "attach_files")
    _check_old_message_edit(emu, message)
    edit_message(emu.world, message, req.body, req.uploads)
    emu.note_message_source(message, req.body)
    await events.message_event(emu, "MESSAGE_UPDATE", message)
    return Reply(body=message)


@route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_channel_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    message = _message(emu, channel, req)
    if message["author"]["id"] != str(emu.bot_user_id):
        require(emu, channel, "manage_messages")
    delete_message(emu.world, int(message["id"]))
    await events.message_event(emu, "MESSAGE_DELETE", message)
    return Reply(status=204)


# --------------------------------------------------------------------- reactions


@route("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me")
async def add_reaction(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    message = _message(emu, channel, req)
    require(emu, channel, "add_reactions")
    emoji = req.params["emoji_name"]
    reactions = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["emoji"]["name"] == emoji:
            if not reaction["me"]:
                reaction["me"], reaction["count"] = True, reaction["count"] + 1
            break
    else:
        reactions.append(
            {
                "emoji": {"id": None, "name": emoji},
                "count": 1,
                "me": True,
                "count_details": {"burst": 0, "normal": 1},
                "burst_colors": [],
                "me_burst": False,
                "burst_me": False,
                "burst_count": 0,
            }
        )
    return Reply(status=204)


@route("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me")
async def remove_reaction(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    message = _message(emu, channel, req)
    emoji = req.params["emoji_name"]
    message["reactions"] = [
        r for r in message.get("reactions", []) if r["emoji"]["name"] != emoji or r["count"] > 1
    ]
    return Reply(status=204)


# ----------------------------------------------------------------------- threads


def _new_thread(
    emu: DiscordEmulator,
    parent: Channel,
    thread_id: int,
    name: str,
    thread_type: int,
    body: dict[str, Any],
) -> Channel:
    thread = Channel(
        id=thread_id,
        name=name,
        type=thread_type,
        guild_id=parent.guild_id,
        parent_id=parent.id,
        owner_id=emu.bot_user_id,
        auto_archive_duration=body.get("auto_archive_duration") or 1440,
        created_at=emu.clock.iso_now(),
    )
    emu.world.channels[thread.id] = thread
    return thread


def _thread_reply(emu: DiscordEmulator, thread: Channel) -> dict[str, Any]:
    payload = emu.world.channel_payload(thread)
    payload["member"] = {
        "id": str(thread.id),
        "user_id": str(emu.bot_user_id),
        "join_timestamp": thread.created_at,
        "flags": 0,
    }
    return payload


@route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def thread_from_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    message = _message(emu, channel, req)
    if channel.is_thread or channel.type == DM:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    require(emu, channel, "create_public_threads")
    if message.get("thread") is not None:
        raise DiscordError(400, 160004, "A thread has already been created for this message")
    thread = _new_thread(
        emu, channel, int(message["id"]), req.body["name"], PUBLIC_THREAD, req.body
    )
    message["thread"] = emu.world.channel_payload(thread)
    message["flags"] |= HAS_THREAD
    payload = _thread_reply(emu, thread)
    await events.guild_event(
        emu, "THREAD_CREATE", {**payload, "newly_created": True}, thread.guild_id
    )
    return Reply(status=201, body=payload)


@route("POST", "/channels/{channel_id}/threads")
async def thread_without_message(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    if channel.is_thread or channel.type == DM:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    thread_type = req.body.get("type") or PRIVATE_THREAD  # Discord's default in v10
    require(
        emu,
        channel,
        "create_private_threads" if thread_type == PRIVATE_THREAD else "create_public_threads",
    )
    thread = _new_thread(emu, channel, emu.world.new_id(), req.body["name"], thread_type, req.body)
    payload = _thread_reply(emu, thread)
    await events.guild_event(
        emu, "THREAD_CREATE", {**payload, "newly_created": True}, thread.guild_id
    )
    return Reply(status=201, body=payload)


@route("PUT", "/channels/{channel_id}/thread-members/@me")
async def join_thread(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    if not channel.is_thread:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    return Reply(status=204)


@route("PUT", "/channels/{channel_id}/thread-members/{user_id}")
async def add_thread_member(emu: DiscordEmulator, req: RestRequest) -> Reply:
    channel = _channel(emu, req)
    if not channel.is_thread:
        raise DiscordError(400, 50024, "Cannot execute action on this channel type")
    if req.param("user_id") not in emu.world.users:
        raise DiscordError(404, 10013, "Unknown User")
    check_can_send(emu, channel, with_files=False)
    return Reply(status=204)


# --------------------------------------------------------------------------- DMs


@route("POST", "/users/@me/channels")
async def open_dm(emu: DiscordEmulator, req: RestRequest) -> Reply:
    recipient = int(req.body.get("recipient_id") or 0)
    if recipient not in emu.world.users:
        raise DiscordError(400, 50033, "Invalid Recipient(s)")
    return Reply(body=emu.world.channel_payload(emu.world.dm_channel(recipient)))
