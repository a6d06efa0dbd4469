"""REST: users, application info, gateway discovery, guilds, application commands."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import DiscordError, invalid_form_body
from .records import CommandSync
from .rest import Reply, RestRequest, on_rejected, route
from .spec import FieldError

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


@route("GET", "/users/@me")
async def get_me(emu: DiscordEmulator, req: RestRequest) -> Reply:
    user = emu.world.user_payload(emu.bot_user_id)
    return Reply(
        body={**user, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}
    )


@route("GET", "/users/{user_id}")
async def get_user(emu: DiscordEmulator, req: RestRequest) -> Reply:
    user = emu.world.users.get(req.param("user_id"))
    if user is None:
        raise DiscordError(404, 10013, "Unknown User")
    return Reply(body=user.payload())


def application_payload(emu: DiscordEmulator) -> dict[str, Any]:
    """The application as GET /oauth2/applications/@me returns it (PrivateApplicationResponse)."""
    world = emu.world
    return {
        "id": str(emu.application_id),
        "name": world.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": emu.application_flags,
        "flags_new": str(emu.application_flags),
        "redirect_uris": [],
        "interactions_endpoint_url": None,  # else discord.py warns interactions go elsewhere
        "role_connections_verification_url": None,
        "owner": world.user_payload(world.guilds[min(world.guilds)].owner_id)
        if world.guilds
        else world.user_payload(emu.bot_user_id),
        "team": None,
        "bot": world.user_payload(emu.bot_user_id),
        "rpc_origins": [],
        "approximate_guild_count": len(world.guilds),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "eligible_oauth2_scopes": ["bot", "applications.commands"],
        "integration_types_config": {"0": {}},
        "tags": [],
    }


@route("GET", "/oauth2/applications/@me")
async def get_application(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body=application_payload(emu))


@route("GET", "/applications/@me")
async def get_application_v2(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body=application_payload(emu))


@route("GET", "/gateway")
async def get_gateway(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body={"url": emu.gateway_url})


@route("GET", "/gateway/bot")
async def get_gateway_bot(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(
        body={
            "url": emu.gateway_url,
            "shards": emu.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - sum(s.identifies for s in emu.gateway.stats.values()),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }
    )


# ----------------------------------------------------------------------- guilds


def _guild(emu: DiscordEmulator, req: RestRequest) -> Any:
    guild = emu.world.guilds.get(req.param("guild_id"))
    if guild is None:
        raise DiscordError(404, 10004, "Unknown Guild")
    return guild


@route("GET", "/guilds/{guild_id}")
async def get_guild(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body=emu.world.guild_rest_payload(_guild(emu, req)))


@route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(emu: DiscordEmulator, req: RestRequest) -> Reply:
    guild = _guild(emu, req)
    channels = [
        emu.world.channel_payload(c)
        for c in emu.world.channels.values()
        if c.guild_id == guild.id and not c.is_thread
    ]
    return Reply(body=channels)


@route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(emu: DiscordEmulator, req: RestRequest) -> Reply:
    guild = _guild(emu, req)
    user_id = req.param("user_id")
    if user_id not in guild.members and user_id != emu.bot_user_id:
        raise DiscordError(404, 10007, "Unknown Member")
    return Reply(body=emu.world.member_payload(guild, user_id))


@route("GET", "/guilds/{guild_id}/roles")
async def get_roles(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return Reply(body=[r.payload() for r in _guild(emu, req).all_roles()])


# ------------------------------------------------------------ application commands


def _check_app(emu: DiscordEmulator, req: RestRequest) -> None:
    if req.param("application_id") != emu.application_id:
        raise DiscordError(
            403,
            50001,
            "Missing Access",
            violation="wrong_application",
            detail=f"application id {req.params['application_id']} is not {emu.application_id}",
        )


def _command_errors(commands: list[dict[str, Any]]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        ctype = command.get("type") or 1
        name = command.get("name", "")
        key = (ctype, name)
        if key in seen:
            errors.append(
                FieldError(
                    (index, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique ({name!r})",
                )
            )
        seen.add(key)
        if ctype == 1:
            errors.extend(_option_errors((index,), command))
    return errors


def _option_errors(path: tuple[str | int, ...], node: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = node.get("name", "")
    if not _COMMAND_NAME.match(name) or name != name.lower():
        errors.append(
            FieldError(
                (*path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid ({name!r})",
            )
        )
    if not node.get("description"):
        errors.append(
            FieldError((*path, "description"), "BASE_TYPE_REQUIRED", "This field is required")
        )
    options = node.get("options") or []
    optional_seen = False
    for i, option in enumerate(options):
        if option.get("type") in (1, 2):
            errors.extend(_option_errors((*path, "options", i), option))
            continue
        errors.extend(_option_errors((*path, "options", i), {**option, "options": []}))
        if option.get("required"):
            if optional_seen:
                errors.append(
                    FieldError(
                        (*path, "options", i, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            optional_seen = True
    return errors


def _store_commands(
    emu: DiscordEmulator, guild_id: int | None, commands: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    current = emu.registry.get(guild_id)
    by_key = {(c["type"], c["name"]): c for c in current}
    stored = []
    for command in commands:
        key = (command.get("type") or 1, command["name"])
        previous = by_key.get(key)
        stored.append(_command_payload(emu, guild_id, command, previous))
    emu.registry.set(guild_id, stored)
    return stored


def _command_payload(
    emu: DiscordEmulator,
    guild_id: int | None,
    command: dict[str, Any],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    ctype = command.get("type") or 1
    permissions = command.get("default_member_permissions")
    payload: dict[str, Any] = {
        "id": previous["id"] if previous else str(emu.world.new_id()),
        "application_id": str(emu.application_id),
        "version": str(emu.world.new_id()),
        "default_member_permissions": None if permissions is None else str(permissions),
        "type": ctype,
        "name": command["name"],
        "name_localizations": command.get("name_localizations"),
        "description": command.get("description") or "",
        "description_localizations": command.get("description_localizations"),
        "dm_permission": command.get("dm_permission", True) is not False,
        "contexts": command.get("contexts"),
        "integration_types": command.get("integration_types") or [0],
        "nsfw": bool(command.get("nsfw")),
    }
    if ctype == 1:
        payload["options"] = command.get("options") or []
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    if previous is not None:
        unchanged = {k: v for k, v in previous.items() if k != "version"}
        if unchanged == {k: v for k, v in payload.items() if k != "version"}:
            payload["version"] = previous["version"]
    return payload


async def _bulk_overwrite(emu: DiscordEmulator, req: RestRequest, guild_id: int | None) -> Reply:
    _check_app(emu, req)
    commands = req.json if isinstance(req.json, list) else []
    errors = _command_errors(commands)
    if errors:
        raise invalid_form_body(errors, "commands")
    stored = _store_commands(emu, guild_id, commands)
    emu.registry.syncs.append(CommandSync(guild_id, commands, emu.clock.monotonic()))
    return Reply(body=stored)


@on_rejected("PUT", "/applications/{application_id}/commands")
@on_rejected("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
def _sync_rejected(emu: DiscordEmulator, req: RestRequest, err: DiscordError) -> None:
    guild_id = req.param("guild_id") if "guild_id" in req.params else None
    commands = req.json if isinstance(req.json, list) else []
    emu.registry.syncs.append(CommandSync(guild_id, commands, emu.clock.monotonic(), False))


@route("PUT", "/applications/{application_id}/commands")
async def put_global_commands(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return await _bulk_overwrite(emu, req, None)


@route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def put_guild_commands(emu: DiscordEmulator, req: RestRequest) -> Reply:
    _guild(emu, req)
    return await _bulk_overwrite(emu, req, req.param("guild_id"))


@route("GET", "/applications/{application_id}/commands")
async def get_global_commands(emu: DiscordEmulator, req: RestRequest) -> Reply:
    _check_app(emu, req)
    return Reply(body=emu.registry.get(None))


@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def get_guild_commands(emu: DiscordEmulator, req: RestRequest) -> Reply:
    _check_app(emu, req)
    return Reply(body=emu.registry.get(req.param("guild_id")))


async def _upsert_one(emu: DiscordEmulator, req: RestRequest, guild_id: int | None) -> Reply:
    _check_app(emu, req)
    body = req.body
    errors = _command_errors([body])
    if errors:
        raise invalid_form_body(errors, "commands")
    current = emu.registry.get(guild_id)
    key = (body.get("type") or 1, body.get("name"))
    previous = next((c for c in current if (c["type"], c["name"]) == key), None)
    payload = _command_payload(emu, guild_id, body, previous)
    emu.registry.set(guild_id, [c for c in current if c is not previous] + [payload])
    return Reply(status=200 if previous else 201, body=payload)


@route("POST", "/applications/{application_id}/commands")
async def post_global_command(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return await _upsert_one(emu, req, None)


@route("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
async def post_guild_command(emu: DiscordEmulator, req: RestRequest) -> Reply:
    return await _upsert_one(emu, req, req.param("guild_id"))


def _find_command(emu: DiscordEmulator, req: RestRequest, guild_id: int | None) -> dict[str, Any]:
    _check_app(emu, req)
    command_id = req.params["command_id"]
    for command in emu.registry.get(guild_id):
        if command["id"] == command_id:
            return command
    raise DiscordError(404, 10063, "Unknown application command")


async def _one_command(emu: DiscordEmulator, req: RestRequest, guild_id: int | None) -> Reply:
    command = _find_command(emu, req, guild_id)
    current = emu.registry.get(guild_id)
    if req.method == "GET":
        return Reply(body=command)
    if req.method == "DELETE":
        emu.registry.set(guild_id, [c for c in current if c is not command])
        return Reply(status=204)
    merged = {**command, **req.body}
    errors = _command_errors([merged])
    if errors:
        raise invalid_form_body(errors, "commands")
    payload = _command_payload(emu, guild_id, merged, command)
    emu.registry.set(guild_id, [payload if c is command else c for c in current])
    return Reply(body=payload)


for _method in ("GET", "PATCH", "DELETE"):
    route(_method, "/applications/{application_id}/commands/{command_id}")(
        lambda emu, req: _one_command(emu, req, None)
    )
    route(_method, "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")(
        lambda emu, req: _one_command(emu, req, req.param("guild_id"))
    )
