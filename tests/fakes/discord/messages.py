"""Building and editing stored messages from request bodies, as Discord would."""

from __future__ import annotations

import copy
import datetime
import itertools
import mimetypes
import re
from collections.abc import Iterator
from typing import Any

from .errors import DiscordError, invalid_form_body
from .models import Channel, StoredFile
from .records import Upload
from .spec import FieldError
from .world import World

EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_VOICE_MESSAGE = 1 << 13
IS_COMPONENTS_V2 = 1 << 15
HAS_THREAD = 1 << 5
SETTABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2

MAX_CONTENT = 2000
MAX_EMBED_TOTAL = 6000
V2_COMPONENT_TYPES = {9, 10, 11, 12, 13, 14, 17}
# Components V2 (discord-api-docs, "Component Reference"): a message holds at most 40
# components, nested ones included, and 4000 characters of text across its text displays.
# The JSON schema checks each component's shape; these totals span the whole message.
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


# ---------------------------------------------------------------- semantic checks


def walk_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every component, depth first: rows, their children, section accessories, labels..."""
    for component in components or []:
        if not isinstance(component, dict):
            continue
        yield component
        yield from walk_components(component.get("components"))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from walk_components([child])


def check_message_body(body: dict[str, Any], uploads: list[Upload], *, creating: bool) -> None:
    """Checks Discord makes beyond the JSON schema. Raises DiscordError (a violation)."""
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        raise invalid_form_body(
            [
                FieldError(
                    ("content",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_CONTENT} or fewer in length.",
                )
            ],
            "content_too_long",
        )
    embeds = body.get("embeds") or []
    total = sum(_embed_size(e) for e in embeds if isinstance(e, dict))
    if total > MAX_EMBED_TOTAL:
        raise invalid_form_body(
            [
                FieldError(
                    ("embeds",),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL} ({total})",
                )
            ],
            "embed_too_large",
        )
    components = body.get("components") or []
    seen: set[str] = set()
    for component in walk_components(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            if component.get("type") == 2 and component.get("style") in (1, 2, 3, 4):
                raise invalid_form_body(
                    [
                        FieldError(
                            ("components",),
                            "COMPONENT_CUSTOM_ID_REQUIRED",
                            "A custom id is required",
                        )
                    ],
                    "components",
                )
            continue
        if custom_id in seen:
            raise invalid_form_body(
                [
                    FieldError(
                        ("components",),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        f"Component custom id cannot be duplicated ({custom_id!r})",
                    )
                ],
                "components",
            )
        seen.add(custom_id)
    flags = body.get("flags") or 0
    uses_v2 = any(c.get("type") in V2_COMPONENT_TYPES for c in walk_components(components))
    if uses_v2 and not flags & IS_COMPONENTS_V2:
        raise invalid_form_body(
            [
                FieldError(
                    ("components",),
                    "COMPONENT_TYPE_INVALID",
                    "Components V2 require the IS_COMPONENTS_V2 flag",
                )
            ],
            "components",
        )
    if flags & IS_COMPONENTS_V2:
        check_v2_totals(components)
    if flags & IS_COMPONENTS_V2 and (body.get("content") or body.get("embeds")):
        raise invalid_form_body(
            [
                FieldError(
                    ("content",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "content and embeds cannot be used with IS_COMPONENTS_V2",
                )
            ],
            "components",
        )
    if creating and not any(
        (
            body.get("content"),
            embeds,
            components,
            body.get("sticker_ids"),
            body.get("poll"),
            uploads,
        )
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message", violation="empty_message")


def check_v2_totals(components: list[dict[str, Any]]) -> None:
    """The limits of a Components V2 message as a whole (each part's shape is the schema's)."""
    every = list(walk_components(components))
    if len(every) > MAX_V2_COMPONENTS:
        raise invalid_form_body(
            [
                FieldError(
                    ("components",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_V2_COMPONENTS} or fewer in length ({len(every)} components).",
                )
            ],
            "components_v2_too_many",
        )
    text = sum(
        len(c["content"])
        for c in every
        if c.get("type") == 10 and isinstance(c.get("content"), str)
    )
    if text > MAX_V2_TEXT:
        raise invalid_form_body(
            [
                FieldError(
                    ("components",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Text displays must hold {MAX_V2_TEXT} or fewer characters ({text}).",
                )
            ],
            "components_v2_text_too_long",
        )


def check_v2_edit(message: dict[str, Any], body: dict[str, Any]) -> None:
    """Once a message has IS_COMPONENTS_V2 the flag cannot be removed, and the message
    cannot get content or embeds back (discord-api-docs, message flags)."""
    if not message["flags"] & IS_COMPONENTS_V2:
        return
    flags = body.get("flags")
    if flags is not None and not flags & IS_COMPONENTS_V2:
        raise invalid_form_body(
            [
                FieldError(
                    ("flags",),
                    "MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG",
                    "The IS_COMPONENTS_V2 flag cannot be removed from a message",
                )
            ],
            "components_v2_flag_removed",
        )
    if body.get("content") or body.get("embeds"):
        raise invalid_form_body(
            [
                FieldError(
                    ("content",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "content and embeds cannot be used with IS_COMPONENTS_V2",
                )
            ],
            "components",
        )


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for fld in embed.get("fields") or []:
        size += len(fld.get("name") or "") + len(fld.get("value") or "")
    return size


# ------------------------------------------------------------------- building


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def _normalize_components(components: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Discord echoes components back with numeric ``id``s filled in."""
    result: list[dict[str, Any]] = _without_nones(copy.deepcopy(components or []))
    used = {c["id"] for c in walk_components(result) if isinstance(c.get("id"), int)}
    fresh = (i for i in itertools.count(1) if i not in used)
    for component in walk_components(result):
        if not isinstance(component.get("id"), int):
            component["id"] = next(fresh)
    return result


def _normalize_embeds(
    embeds: list[dict[str, Any]] | None,
    attachments: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    by_name = {a["filename"]: a for a in attachments}
    result = []
    for embed in _without_nones(copy.deepcopy(embeds or [])):
        embed.setdefault("type", "rich")
        embed.setdefault("content_scan_version", 0)
        for key in ("image", "thumbnail", "footer", "author"):
            part = embed.get(key)
            if not isinstance(part, dict):
                continue
            url_key = "url" if key in ("image", "thumbnail") else "icon_url"
            url = part.get(url_key)
            if isinstance(url, str) and url.startswith("attachment://"):
                attachment = by_name.get(url.removeprefix("attachment://"))
                if attachment is not None:
                    part[url_key] = attachment["url"]
                    part["proxy_" + url_key] = attachment["url"]
        result.append(embed)
    return result


def _poll_payload(world: World, poll: dict[str, Any]) -> dict[str, Any]:
    hours = poll.get("duration") or 24
    expiry = world.clock.now() + datetime.timedelta(hours=hours)
    return {
        "question": poll.get("question", {}),
        "answers": [
            {"answer_id": i, "poll_media": a.get("poll_media", {})}
            for i, a in enumerate(poll.get("answers") or [], start=1)
        ],
        "expiry": expiry.isoformat(),
        "allow_multiselect": bool(poll.get("allow_multiselect")),
        "layout_type": poll.get("layout_type") or 1,
        "results": {"is_finalized": False, "answer_counts": []},
    }


def store_uploads(
    world: World,
    channel_id: int,
    requested: list[dict[str, Any]] | None,
    uploads: list[Upload],
    *,
    keep: list[dict[str, Any]] | None = None,
    ephemeral: bool = False,
) -> list[dict[str, Any]]:
    """Turn ``files[n]`` parts (+ the ``attachments`` array) into attachment payloads.

    ``keep`` are the message's current attachments when editing: entries of the
    ``attachments`` array whose id is one of theirs are retained (API v10 rule).
    """
    by_index = {u.index: u for u in uploads if u.index is not None}
    existing = {a["id"]: a for a in keep or []}
    result: list[dict[str, Any]] = []
    used: set[int] = set()
    for entry in requested or []:
        raw_id = str(entry.get("id"))
        if raw_id in existing:
            kept = dict(existing[raw_id])
            if entry.get("description") is not None:
                kept["description"] = entry["description"]
            result.append(kept)
        elif raw_id.isdigit() and int(raw_id) in by_index:
            upload = by_index[int(raw_id)]
            used.add(int(raw_id))
            result.append(_store_file(world, channel_id, upload, entry, ephemeral))
    for upload in uploads:
        if upload.index is None or upload.index not in used:
            result.append(_store_file(world, channel_id, upload, {}, ephemeral))
    if requested is None and keep:
        result = [*keep, *result]
    return result


def _store_file(
    world: World, channel_id: int, upload: Upload, entry: dict[str, Any], ephemeral: bool
) -> dict[str, Any]:
    filename = entry.get("filename") or upload.filename or "unknown"
    content_type = (
        mimetypes.guess_type(filename)[0] or upload.content_type or "application/octet-stream"
    )
    file_id = world.new_id()
    url = f"{world.base_url}/attachments/{channel_id}/{file_id}/{filename}"
    stored = StoredFile(file_id, filename, content_type, upload.data, url, entry.get("description"))
    world.files[file_id] = stored
    return stored.payload(ephemeral=ephemeral)


def _mentions(world: World, content: str) -> tuple[list[dict[str, Any]], list[str]]:
    users = []
    for user_id in dict.fromkeys(int(m) for m in _USER_MENTION.findall(content)):
        if user_id in world.users:
            users.append(world.user_payload(user_id))
    roles = list(dict.fromkeys(_ROLE_MENTION.findall(content)))
    return users, roles


def create_message(
    world: World,
    channel: Channel,
    body: dict[str, Any],
    uploads: list[Upload],
    *,
    author_id: int,
    message_type: int = 0,
    extra_flags: int = 0,
    allowed_flags: int = SETTABLE_FLAGS,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a new message in ``channel`` and return its payload."""
    flags = ((body.get("flags") or 0) & allowed_flags) | extra_flags
    message_id = world.new_id()
    attachments = store_uploads(
        world, channel.id, body.get("attachments"), uploads, ephemeral=bool(flags & EPHEMERAL)
    )
    content = body.get("content") or ""
    mentions, mention_roles = _mentions(world, content)
    allowed = body.get("allowed_mentions")
    everyone = ("@everyone" in content or "@here" in content) and (
        allowed is None or "everyone" in (allowed.get("parse") or [])
    )
    message: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "type": message_type,
        "content": content,
        "author": world.user_payload(author_id),
        "attachments": attachments,
        "embeds": _normalize_embeds(body.get("embeds"), attachments),
        "mentions": mentions,
        "mention_roles": mention_roles,
        "mention_everyone": everyone,
        "pinned": False,
        "tts": bool(body.get("tts")),
        "timestamp": world.clock.iso_now(),
        "edited_timestamp": None,
        "flags": flags,
        "components": _normalize_components(body.get("components")),
    }
    if body.get("nonce") is not None:
        message["nonce"] = body["nonce"]
    if body.get("poll"):
        message["poll"] = _poll_payload(world, body["poll"])
    reference = body.get("message_reference")
    if reference:
        _attach_reference(world, channel, message, reference)
    if channel.is_thread:
        message["position"] = channel.message_count
        channel.message_count += 1
    if extra:
        message.update(extra)
    world.messages[message_id] = message
    world.channel_order.setdefault(channel.id, []).append(message_id)
    if not flags & EPHEMERAL:
        channel.last_message_id = message_id
    return message


def _attach_reference(
    world: World, channel: Channel, message: dict[str, Any], reference: dict[str, Any]
) -> None:
    target_id = int(reference.get("message_id") or 0)
    target = world.messages.get(target_id)
    if target is None:
        if reference.get("fail_if_not_exists", True):
            raise invalid_form_body(
                [FieldError(("message_reference",), "REPLIES_UNKNOWN_MESSAGE", "Unknown message")],
                "unknown_reference",
            )
        return
    message["type"] = 19 if reference.get("type", 0) == 0 else 0
    message["message_reference"] = {
        "type": reference.get("type", 0),
        "message_id": target["id"],
        "channel_id": target["channel_id"],
        **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
    }
    referenced = {k: v for k, v in target.items() if k != "referenced_message"}
    message["referenced_message"] = referenced


def edit_message(
    world: World, message: dict[str, Any], body: dict[str, Any], uploads: list[Upload]
) -> dict[str, Any]:
    """Apply a PATCH body to a stored message (in place) and return it."""
    check_v2_edit(message, body)
    channel_id = int(message["channel_id"])
    ephemeral = bool(message["flags"] & EPHEMERAL)
    if "content" in body:
        message["content"] = body["content"] or ""
        message["mentions"], message["mention_roles"] = _mentions(world, message["content"])
    if "attachments" in body or uploads:
        message["attachments"] = store_uploads(
            world,
            channel_id,
            body.get("attachments"),
            uploads,
            keep=message["attachments"],
            ephemeral=ephemeral,
        )
    if "embeds" in body:
        message["embeds"] = _normalize_embeds(body["embeds"], message["attachments"])
    if "components" in body:
        message["components"] = _normalize_components(body["components"])
    if body.get("flags") is not None:
        keep = message["flags"] & ~(SUPPRESS_EMBEDS | IS_COMPONENTS_V2)
        message["flags"] = keep | (body["flags"] & (SUPPRESS_EMBEDS | IS_COMPONENTS_V2))
    if body.get("poll"):
        message["poll"] = _poll_payload(world, body["poll"])
    message_id = int(message["id"])
    world.edit_counts[message_id] = world.edit_counts.get(message_id, 0) + 1
    if message["flags"] & LOADING:
        message["flags"] &= ~LOADING  # a deferred response being filled in is not an "edit"
    else:
        message["edited_timestamp"] = world.clock.iso_now()
    return message


def delete_message(world: World, message_id: int) -> dict[str, Any] | None:
    message = world.messages.pop(message_id, None)
    if message is not None:
        order = world.channel_order.get(int(message["channel_id"]), [])
        if message_id in order:
            order.remove(message_id)
    return message
