"""Interactions the emulator sends to the bot: payloads, and a handle to follow each one."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .messages import EPHEMERAL, LOADING, walk_components
from .models import Channel, StoredFile
from .world import World

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

# Interaction types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback types
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
TOKEN_LIFETIME = 15 * 60.0

OPTION_TYPES = {
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
SELECT_TYPES = {3, 5, 6, 7, 8}


@dataclass
class SentModal:
    """A modal the bot opened (callback type 9)."""

    custom_id: str
    title: str
    components: list[dict[str, Any]]
    interaction: EmulatedInteraction


@dataclass(eq=False)
class EmulatedInteraction:
    """One interaction dispatched to the bot, and everything the bot did with it."""

    emu: DiscordEmulator = field(repr=False)
    id: int
    token: str
    type: int
    payload: dict[str, Any] = field(repr=False)
    channel_id: int
    guild_id: int | None
    user_id: int
    dispatched_at: float
    source_message_id: int | None = None
    """For component interactions (and modals opened from them): the clicked message."""
    callback: dict[str, Any] | None = None
    """The accepted callback body, e.g. ``{"type": 4, "data": {...}}``."""
    callback_files: list[Any] = field(default_factory=list, repr=False)
    acked_after: float | None = None
    """Seconds between dispatch and the accepted callback."""
    rejected: list[str] = field(default_factory=list)
    """Callbacks the emulator refused (late, second ack, invalid body ...)."""
    expired: bool = False
    """The 3-second window passed without an accepted callback: the token is dead."""
    original_message_id: int | None = None
    edits_at_ack: int = 0
    followup_ids: list[int] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None

    @property
    def callback_type(self) -> int | None:
        return None if self.callback is None else int(self.callback["type"])

    @property
    def token_expired(self) -> bool:
        return self.emu.clock.monotonic() - self.dispatched_at > TOKEN_LIFETIME

    def _context(self) -> str:
        lines = [f"interaction {self.id} (type {self.type}), rejected callbacks: {self.rejected}"]
        return "\n".join([*lines, self.emu.describe_recent()])

    async def response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The callback body the bot answered with (``{"type": 4, "data": {...}}``)."""

        def probe() -> dict[str, Any] | None:
            if self.callback is None and self.rejected:
                raise AssertionError(
                    f"the bot's callback was refused: {self.rejected[-1]}\n{self._context()}"
                )
            return self.callback

        return await self.emu.changed.wait_for(
            probe, timeout, f"a response to {self!r}", self._context
        )

    async def original(self, timeout: float = 5.0) -> dict[str, Any]:
        """The original response message as it now stands.

        After a deferral this waits until the bot has filled it in: after type 5, an
        edit of ``@original`` or the first followup; after type 6, any edit of the
        message (through ``@original`` or the channel route).
        """
        await self.response(timeout)

        def probe() -> dict[str, Any] | None:
            if self.original_message_id is None:
                raise AssertionError(f"callback type {self.callback_type} created no message")
            message = self.emu.world.messages.get(self.original_message_id)
            if message is None:
                raise AssertionError(
                    f"the original response {self.original_message_id} was deleted"
                )
            if self.callback_type == DEFERRED_CHANNEL_MESSAGE and message["flags"] & LOADING:
                return None
            edits = self.emu.world.edit_counts.get(self.original_message_id, 0)
            if self.callback_type == DEFERRED_UPDATE and edits <= self.edits_at_ack:
                return None
            return copy.deepcopy(message)

        return await self.emu.changed.wait_for(
            probe, timeout, "the original response", self._context
        )

    async def followups(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first ``count`` followup messages (as they now stand)."""

        def probe() -> list[dict[str, Any]] | None:
            if len(self.followup_ids) < count:
                return None
            world = self.emu.world
            return [
                copy.deepcopy(world.messages[m])
                for m in self.followup_ids[:count]
                if m in world.messages
            ]

        return await self.emu.changed.wait_for(
            probe, timeout, f"{count} followup(s)", self._context
        )

    async def autocomplete_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        body = await self.response(timeout)
        if body["type"] != AUTOCOMPLETE_RESULT:
            raise AssertionError(f"expected an autocomplete result, got callback {body}")
        return list((body.get("data") or {}).get("choices") or [])

    async def modal(self, timeout: float = 5.0) -> dict[str, Any]:
        """The modal the bot opened in response (callback type 9)."""
        body = await self.response(timeout)
        if body["type"] != MODAL:
            raise AssertionError(f"expected a modal, got callback {body}")
        return dict(body["data"])


# ----------------------------------------------------------------------- payloads


def new_token() -> str:
    return "emu." + secrets.token_urlsafe(48)


def base_payload(
    world: World,
    *,
    interaction_id: int,
    token: str,
    ix_type: int,
    user_id: int,
    channel: Channel,
    data: dict[str, Any] | None,
    locale: str,
) -> dict[str, Any]:
    guild = world.guild_of(channel)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": ix_type,
        "token": token,
        "version": 1,
        "channel_id": str(channel.id),
        "channel": world.interaction_channel_payload(channel, user_id),
        "app_permissions": str(world.permissions(world.bot.id, channel)),
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id) if guild else "0"},
        "context": 0 if guild else 1,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if guild is not None:
        payload["guild_id"] = str(guild.id)
        payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = world.member_payload(guild, user_id, channel=channel)
    else:
        payload["user"] = world.user_payload(user_id)
    return payload


class _Resolver:
    """Collects ``resolved`` data for user/channel/role/attachment values."""

    def __init__(self, world: World, channel: Channel) -> None:
        self.world = world
        self.channel = channel
        self.data: dict[str, dict[str, Any]] = {}

    def user(self, user_id: int) -> str:
        world = self.world
        self.data.setdefault("users", {})[str(user_id)] = world.user_payload(user_id)
        guild = world.guild_of(self.channel)
        if guild is not None and user_id in guild.members:
            member = world.member_payload(guild, user_id, with_user=False, channel=self.channel)
            self.data.setdefault("members", {})[str(user_id)] = member
        return str(user_id)

    def channel_value(self, channel_id: int) -> str:
        target = self.world.channels[channel_id]
        entry = self.world.channel_payload(target)
        entry["permissions"] = str(self.world.permissions(self.world.bot.id, target))
        self.data.setdefault("channels", {})[str(channel_id)] = entry
        return str(channel_id)

    def role(self, role_id: int) -> str:
        guild = self.world.guild_of(self.channel)
        roles = {r.id: r for r in guild.all_roles()} if guild else {}
        if role_id not in roles:
            raise ValueError(f"unknown role {role_id}")
        self.data.setdefault("roles", {})[str(role_id)] = roles[role_id].payload()
        return str(role_id)

    def mentionable(self, target_id: int) -> str:
        return self.user(target_id) if target_id in self.world.users else self.role(target_id)

    def attachment(self, value: Any) -> str:
        stored = self.world.files.get(int(value["id"])) if isinstance(value, Mapping) else None
        if isinstance(value, StoredFile):
            stored = value
        if stored is None:
            raise ValueError("attachment options take emu.upload(filename, data) results")
        self.data.setdefault("attachments", {})[str(stored.id)] = stored.payload(ephemeral=True)
        return str(stored.id)


def _option_value(resolver: _Resolver, option: dict[str, Any], value: Any) -> Any:
    kind = option["type"]
    if option.get("choices") and value not in [c["value"] for c in option["choices"]]:
        allowed = [c["value"] for c in option["choices"]]
        raise ValueError(f"option {option['name']!r}: {value!r} is not one of {allowed}")
    if kind == 3:
        return str(value)
    if kind == 4:
        return int(value)
    if kind == 5:
        return bool(value)
    if kind == 10:
        return float(value)
    if kind == 6:
        return resolver.user(int(value))
    if kind == 7:
        return resolver.channel_value(int(value))
    if kind == 8:
        return resolver.role(int(value))
    if kind == 9:
        return resolver.mentionable(int(value))
    if kind == 11:
        return resolver.attachment(value)
    raise ValueError(f"unsupported option type {kind}")


def build_options(
    resolver: _Resolver,
    definitions: Sequence[dict[str, Any]],
    values: Mapping[str, Any],
    *,
    focused: str | None = None,
    where: str,
) -> list[dict[str, Any]]:
    by_name = {d["name"]: d for d in definitions}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {sorted(unknown)}; it has {sorted(by_name)}")
    options = []
    for definition in definitions:
        name = definition["name"]
        if name not in values:
            if definition.get("required") and name != focused:
                raise ValueError(f"{where}: required option {name!r} is missing")
            continue
        if name == focused:
            options.append(
                {
                    "name": name,
                    "type": definition["type"],
                    "value": str(values[name]),
                    "focused": True,
                }
            )
            continue
        value = _option_value(resolver, definition, values[name])
        options.append({"name": name, "type": definition["type"], "value": value})
    return options


def command_data(
    world: World,
    channel: Channel,
    command: dict[str, Any],
    path: Sequence[str],
    values: Mapping[str, Any],
    *,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of an APPLICATION_COMMAND / AUTOCOMPLETE interaction for ``/name sub ... ``."""
    resolver = _Resolver(world, channel)
    definitions: list[dict[str, Any]] = command.get("options") or []
    where = "/" + command["name"]
    wrappers: list[dict[str, Any]] = []
    for part in path:
        sub = next((o for o in definitions if o["name"] == part and o["type"] in (1, 2)), None)
        if sub is None:
            known = [o["name"] for o in definitions if o["type"] in (1, 2)]
            raise ValueError(f"{where} has no subcommand {part!r}; it has {known}")
        where += " " + part
        wrappers.append({"name": part, "type": sub["type"], "options": []})
        definitions = sub.get("options") or []
    if any(o["type"] in (1, 2) for o in definitions):
        known = [o["name"] for o in definitions]
        raise ValueError(f"{where} is a group: name one of its subcommands {known}")
    options = build_options(resolver, definitions, values, focused=focused, where=where)
    for wrapper in reversed(wrappers):
        wrapper["options"] = options
        options = [wrapper]
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
        "options": options,
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if resolver.data:
        data["resolved"] = resolver.data
    return data


def find_component(message: dict[str, Any], custom_id: str) -> dict[str, Any]:
    for component in walk_components(message.get("components")):
        if component.get("custom_id") == custom_id:
            return component
    ids = [
        c.get("custom_id") for c in walk_components(message.get("components")) if c.get("custom_id")
    ]
    raise ValueError(f"message {message['id']} has no component {custom_id!r}; it has {ids}")


def component_data(
    world: World, channel: Channel, component: dict[str, Any], values: Sequence[Any] | None
) -> dict[str, Any]:
    if component.get("disabled"):
        raise ValueError(f"component {component.get('custom_id')!r} is disabled")
    data: dict[str, Any] = {
        "custom_id": component["custom_id"],
        "component_type": component["type"],
        "id": component.get("id"),
    }
    if component["type"] == 2:
        if values is not None:
            raise ValueError("buttons take no values; use emu.select() for select menus")
        return data
    if component["type"] not in SELECT_TYPES:
        raise ValueError(f"component type {component['type']} cannot be interacted with")
    values = list(values or [])
    low, high = component.get("min_values", 1), component.get("max_values", 1)
    if not low <= len(values) <= high:
        raise ValueError(
            f"select {component['custom_id']!r} takes {low}..{high} values, got {len(values)}"
        )
    resolver = _Resolver(world, channel)
    if component["type"] == 3:
        allowed = [o["value"] for o in component.get("options", [])]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueError(f"select {component['custom_id']!r}: {bad} not in {allowed}")
        data["values"] = [str(v) for v in values]
    else:
        resolve = {
            5: resolver.user,
            6: resolver.role,
            7: resolver.mentionable,
            8: resolver.channel_value,
        }[component["type"]]
        data["values"] = [resolve(int(v)) for v in values]
        data["resolved"] = resolver.data
    return data


def modal_submit_components(modal: SentModal, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Mirror the modal's layout (action rows or labels) with the user's input filled in."""
    known = {c["custom_id"] for c in walk_components(modal.components) if c.get("custom_id")}
    unknown = set(values) - known
    if unknown:
        raise ValueError(
            f"modal {modal.custom_id!r} has no field(s) {sorted(unknown)}; it has {sorted(known)}"
        )

    def submit(component: dict[str, Any]) -> dict[str, Any]:
        kind = component["type"]
        custom_id = str(component.get("custom_id"))
        out: dict[str, Any] = {"type": kind, "id": component.get("id")}
        if kind == 4:
            value = values.get(custom_id, component.get("value") or "")
            if component.get("required", True) and not value:
                raise ValueError(f"modal field {custom_id!r} is required")
            low, high = component.get("min_length", 0), component.get("max_length", 4000)
            if value and not low <= len(value) <= high:
                raise ValueError(f"modal field {custom_id!r} must be {low}..{high} characters")
            out.update(custom_id=custom_id, value=value)
        elif kind in SELECT_TYPES:
            out.update(custom_id=custom_id, values=list(values.get(custom_id, [])))
        return out

    result = []
    for component in modal.components:
        kind = component["type"]
        if kind == 1:
            result.append(
                {
                    "type": 1,
                    "id": component.get("id"),
                    "components": [submit(c) for c in component.get("components", [])],
                }
            )
        elif kind == 18:
            result.append(
                {"type": 18, "id": component.get("id"), "component": submit(component["component"])}
            )
        else:
            result.append({"type": kind, "id": component.get("id")})
    return result


def interaction_message_fields(ix: EmulatedInteraction, name: str | None) -> dict[str, Any]:
    """``webhook_id``, ``interaction_metadata``... of messages created through an interaction."""
    world = ix.emu.world
    user = world.user_payload(ix.user_id)
    metadata: dict[str, Any] = {
        "id": str(ix.id),
        "type": ix.type,
        "user": user,
        "authorizing_integration_owners": ix.payload["authorizing_integration_owners"],
    }
    fields: dict[str, Any] = {
        "webhook_id": str(world.application_id),
        "application_id": str(world.application_id),
        "interaction_metadata": metadata,
    }
    if ix.type == APPLICATION_COMMAND and name is not None:
        metadata["name"] = name
        metadata["command_type"] = 1
        fields["interaction"] = {"id": str(ix.id), "type": ix.type, "name": name, "user": user}
    if ix.source_message_id is not None:
        metadata["interacted_message_id"] = str(ix.source_message_id)
    return fields


def visible_to(message: dict[str, Any], user_id: int) -> bool:
    if not message["flags"] & EPHEMERAL:
        return True
    owner = (message.get("interaction_metadata") or {}).get("user", {}).get("id")
    return bool(owner == str(user_id))
