"""``DiscordEmulator``: a local Discord (REST + gateway) for driving a real discord.py client."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from tests.fakes.gates import Gate

from . import callbacks, events, routes_channels, routes_core  # noqa: F401  (registers routes)
from .commands import CommandRegistry, check_context
from .driver import CHANNEL_GUILD, MessageRef, dispatch_interaction, locate, stored_message
from .errors import DiscordError
from .gateway import GUILD_MEMBERS, INVALID_SESSION, RECONNECT, Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    EmulatedInteraction,
    SentModal,
    command_data,
    component_data,
    find_component,
    modal_submit_components,
)
from .messages import EPHEMERAL, create_message
from .models import (
    GUILD_TEXT,
    Channel,
    EmulatorClock,
    Guild,
    Member,
    StoredFile,
    User,
    permission_bits,
)
from .records import ChangeSignal, CommandSync, RecordedRequest, Unhandled, Upload, Violation
from .rest import HoldRule, RateLimitRule, RestApi
from .setup import (
    ALICE_ID,
    BOB_ID,
    DEFAULT_APPLICATION_FLAGS,
    DEFAULT_APPLICATION_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_USERS,
    OWNER_ID,
    GuildSetup,
    ShardCounts,
)
from .spec import load_spec, match_path
from .world import World


class DiscordEmulator:
    """Discord API v10 (REST under ``/api/v10`` and the gateway at ``/gateway``) on 127.0.0.1.

    Contract breaches by the client are recorded in :attr:`violations` (and answered
    with the error Discord would give); :meth:`assert_clean` fails a test on any.
    """

    def __init__(
        self,
        *,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        bot_name: str = "emulated-bot",
        guilds: Sequence[GuildSetup] | None = None,
        shard_count: int = 1,
        heartbeat_interval: int = 41250,
        callback_deadline: float = 3.0,
        token: str | None = None,
        gateway_compression: bool = True,
        allowed_privileged_intents: int | None = None,
        application_flags: int = DEFAULT_APPLICATION_FLAGS,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 128,
    ) -> None:
        load_spec()  # fail fast (and pay the load once) if the spec is missing
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.shard_count = shard_count
        self.heartbeat_interval = heartbeat_interval
        self.callback_deadline = callback_deadline
        """Seconds the bot has to answer an interaction callback (Discord: 3)."""
        self.token = token
        """If set, REST auth and IDENTIFY must use this token; otherwise any token works."""
        self.gateway_compression = gateway_compression
        """Honour ``compress=zlib-stream`` in the gateway URL (otherwise plain text frames)."""
        self.allowed_privileged_intents = allowed_privileged_intents
        self.application_flags = application_flags
        self.host, self.port = host, port
        # The listen queue. aiohttp's default (128) overflows when a burst opens hundreds
        # of connections, and each refused client retries after 1 s: raise it for load.
        self.backlog = backlog

        self.clock = EmulatorClock()
        self.changed = ChangeSignal()
        bot = User(bot_user_id, bot_name, bot=True)
        self.world = World(
            self.clock, application_id=application_id, bot=bot, base_url=lambda: self.base_url
        )
        self.gateway = Gateway(self)
        self.rest = RestApi(self)

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.unhandled: list[Unhandled] = []
        self.interactions: dict[int, EmulatedInteraction] = {}
        self.interactions_by_token: dict[str, EmulatedInteraction] = {}
        self.modals: list[SentModal] = []
        self.message_sources: dict[int, list[dict[str, Any]]] = {}
        self.registry = CommandRegistry()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

        for user_id, name in DEFAULT_USERS.items():
            self.add_user(user_id, name, guild_id=None)
        for setup in guilds if guilds is not None else [GuildSetup()]:
            self.add_guild(setup)

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> DiscordEmulator:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{file_id}/{filename}", self._attachment)
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=self.backlog)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for rule in self.rest.holds:
            rule.gate.release()
        for task in list(self._tasks):
            task.cancel()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """Use as ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Use as ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``)."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def clock(self) -> EmulatorClock:
        """The emulator's clock; assign a subclass to control time entirely."""
        return self._clock

    @clock.setter
    def clock(self, clock: EmulatorClock) -> None:
        self._clock = clock
        if hasattr(self, "world"):
            self.world.clock = clock

    def advance_time(self, seconds: float) -> None:
        """Move the emulator clock forward (callback deadline, token expiry, timestamps)."""
        self.clock.advance(seconds)
        self.changed.notify()

    # ----------------------------------------------------------------- world

    def add_user(
        self,
        user_id: int,
        name: str | None = None,
        *,
        guild_id: int | None = DEFAULT_GUILD_ID,
        roles: Iterable[int] = (),
        global_name: str | None = None,
        bot: bool = False,
        dms_closed: bool = False,
    ) -> User:
        """Add (or update) a user; by default also a member of the default guild."""
        user = User(
            user_id,
            name or f"user{user_id}",
            global_name=global_name,
            bot=bot,
            dms_closed=dms_closed,
        )
        self.world.users[user_id] = user
        guild = self.world.guilds.get(guild_id) if guild_id is not None else None
        if guild is not None:
            guild.members[user_id] = Member(user_id, roles=list(roles))
            member = self.world.member_payload(guild, user_id)
            self._spawn(
                events.guild_event(
                    self,
                    "GUILD_MEMBER_ADD",
                    {**member, "guild_id": str(guild.id)},
                    guild.id,
                    intent=GUILD_MEMBERS,
                )
            )
        return user

    def add_guild(self, setup: GuildSetup) -> Guild:
        guild = Guild(
            setup.id,
            setup.name,
            owner_id=setup.owner_id,
            everyone_permissions=setup.everyone_permissions,
        )
        self.world.guilds[guild.id] = guild
        for user_id in setup.members:
            if user_id not in self.world.users:
                self.world.users[user_id] = User(user_id, f"user{user_id}")
            guild.members[user_id] = Member(user_id)
        for channel_id, name in setup.channels.items():
            self.world.add_text_channel(guild.id, channel_id, name)
        return guild

    def add_channel(
        self,
        channel_id: int,
        name: str,
        *,
        guild_id: int = DEFAULT_GUILD_ID,
        type: int = GUILD_TEXT,
        parent_id: int | None = None,
        topic: str | None = None,
    ) -> Channel:
        if guild_id not in self.world.guilds:
            raise ValueError(f"unknown guild {guild_id}")
        channel = Channel(
            channel_id,
            name,
            type=type,
            guild_id=guild_id,
            parent_id=parent_id,
            topic=topic,
            position=len(self.world.channels),
        )
        self.world.channels[channel_id] = channel
        self._spawn(
            events.guild_event(
                self, "CHANNEL_CREATE", self.world.channel_payload(channel), guild_id
            )
        )
        return channel

    def deny(self, channel_id: int, *permissions: str) -> None:
        """Deny permissions (e.g. ``"send_messages"``, ``"create_public_threads"``) in a
        channel, to everyone including the bot. Threads follow their parent channel."""
        self._set_denied(channel_id, permissions, deny=True)

    def allow(self, channel_id: int, *permissions: str) -> None:
        self._set_denied(channel_id, permissions, deny=False)

    def _set_denied(self, channel_id: int, permissions: Iterable[str], *, deny: bool) -> None:
        names = set(permissions)
        permission_bits(names)  # validates the names
        channel = self.world.channels[channel_id]
        if channel.is_thread:
            raise ValueError(
                "threads take their permissions from their parent channel; "
                f"deny on {channel.parent_id} instead"
            )
        channel.denied = channel.denied | names if deny else channel.denied - names
        self._spawn(
            events.guild_event(
                self, "CHANNEL_UPDATE", self.world.channel_payload(channel), channel.guild_id
            )
        )

    def rate_limit(
        self,
        method: str,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
    ) -> RateLimitRule:
        """Answer the next ``times`` requests on a route with 429 (route: spec template such
        as ``/channels/{channel_id}/messages``, or a concrete path such as ``/channels/7/messages``)."""
        if "{" in route and route not in load_spec()["paths"]:
            raise ValueError(f"{route} is not a path of Discord's API spec")
        if "{" not in route and match_path(route) is None:
            raise ValueError(f"{route} matches no path of Discord's API spec")
        rule = RateLimitRule(method.upper(), route, times, retry_after, is_global, scope)
        self.rest.rate_limits.append(rule)
        return rule

    def hold(self, method: str, route: str, *, when: str = "before") -> Gate:
        """Hold the next requests on a route (spec template or concrete path) at a gate
        until it is released: "before" Discord acts on them, or "after" (the message is
        created, the answer withheld). For kill-point tests; released on `stop()`."""
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        gate = Gate(f"{method} {route} ({when})")
        self.rest.holds.append(HoldRule(method.upper(), route, when, gate))
        return gate

    def upload(
        self,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> StoredFile:
        """A file "uploaded by a user", for attachment options of slash commands."""
        file_id = self.world.new_id()
        url = f"{self.base_url}/attachments/0/{file_id}/{filename}"
        stored = StoredFile(file_id, filename, content_type, data, url)
        self.world.files[file_id] = stored
        return stored

    # --------------------------------------------------------------- gateway

    @property
    def identify_count(self) -> ShardCounts:
        return ShardCounts({k: s.identifies for k, s in self.gateway.stats.items()})

    @property
    def resume_count(self) -> ShardCounts:
        return ShardCounts({k: s.resumes for k, s in self.gateway.stats.items()})

    @property
    def connection_count(self) -> ShardCounts:
        return ShardCounts({k: s.connections for k, s in self.gateway.stats.items()})

    async def wait_for_ready(
        self, timeout: float = 10.0, shards: Iterable[int] | None = None
    ) -> None:
        """Every shard (default: all ``shard_count``) identified and got its GUILD_CREATEs."""
        wanted = list(range(self.shard_count) if shards is None else shards)

        def probe() -> bool | None:
            stats = self.gateway.stats
            return all(s in stats and stats[s].guilds_sent for s in wanted) or None

        await self.changed.wait_for(
            probe, timeout, f"shards {wanted} to be ready", self.describe_recent
        )

    async def wait_for_resume(
        self, shard_id: int = 0, count: int = 1, timeout: float = 10.0
    ) -> None:
        def probe() -> bool | None:
            return self.gateway.stats[shard_id].resumes >= count or None

        await self.changed.wait_for(
            probe, timeout, f"{count} RESUME(s) on shard {shard_id}", self.describe_recent
        )

    async def drop_gateway(self, shard_id: int = 0, code: int | None = 4000) -> None:
        """Close a shard's socket abnormally (``code=None`` aborts the TCP connection)."""
        await self.gateway.drop(shard_id, code)

    async def request_reconnect(self, shard_id: int = 0) -> None:
        """Send op 7 RECONNECT: the client should reconnect and RESUME."""
        await self.gateway.send_op(shard_id, RECONNECT, None)

    async def invalidate_session(self, shard_id: int = 0, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION."""
        await self.gateway.send_op(shard_id, INVALID_SESSION, resumable)

    # ---------------------------------------------------------- interactions

    @property
    def command_syncs(self) -> list[CommandSync]:
        """Every bulk overwrite (PUT) of commands, accepted or refused, in order."""
        return self.registry.syncs

    @property
    def global_commands(self) -> list[dict[str, Any]]:
        """Registered global commands, as Discord would return them."""
        return copy.deepcopy(self.registry.get(None))

    def guild_commands(self, guild_id: int) -> list[dict[str, Any]]:
        """Registered commands of one guild."""
        return copy.deepcopy(self.registry.get(guild_id))

    @property
    def sync_count(self) -> int:
        """How many bulk overwrites (PUT, global or guild, accepted or not) the bot made.
        Filter :attr:`command_syncs` by ``guild_id`` for one scope."""
        return len(self.registry.syncs)

    async def run_command(
        self,
        name: str,
        *,
        user_id: int = ALICE_ID,
        channel_id: int = DEFAULT_CHANNEL_ID,
        guild_id: Any = CHANNEL_GUILD,
        options: Mapping[str, Any] | None = None,
        locale: str = "en-US",
    ) -> EmulatedInteraction:
        """Invoke ``/name`` (``"wallet link"`` for subcommands) as ``user_id``.

        ``guild_id=None`` runs it in the user's DM with the bot. Option values are
        plain values; users/channels/roles by id; attachments from :meth:`upload`.
        """
        channel = locate(self.world, user_id, channel_id, guild_id)
        parts = name.split()
        command = self.registry.find(parts[0], guild_id=channel.guild_id)
        check_context(command, channel)
        data = command_data(self.world, channel, command, parts[1:], options or {})
        return await dispatch_interaction(
            self, APPLICATION_COMMAND, user_id, channel, data, locale=locale
        )

    async def autocomplete(
        self,
        name: str,
        *,
        focused: str,
        value: str,
        user_id: int = ALICE_ID,
        channel_id: int = DEFAULT_CHANNEL_ID,
        guild_id: Any = CHANNEL_GUILD,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Type into an autocomplete option; returns the choices the bot answered."""
        channel = locate(self.world, user_id, channel_id, guild_id)
        parts = name.split()
        command = self.registry.find(parts[0], guild_id=channel.guild_id)
        values = {**(options or {}), focused: value}
        data = command_data(self.world, channel, command, parts[1:], values, focused=focused)
        ix = await dispatch_interaction(self, AUTOCOMPLETE, user_id, channel, data)
        return await ix.autocomplete_choices(timeout)

    async def click(
        self, message: MessageRef, custom_id: str, *, user_id: int = ALICE_ID
    ) -> EmulatedInteraction:
        """Click a button on a stored message (its current version)."""
        stored = stored_message(self.world, message, user_id)
        component = find_component(stored, custom_id)
        if component["type"] != 2:
            raise ValueError(f"{custom_id!r} is not a button; use emu.select()")
        return await self._component(stored, component, None, user_id)

    async def select(
        self,
        message: MessageRef,
        custom_id: str,
        values: Sequence[Any],
        *,
        user_id: int = ALICE_ID,
    ) -> EmulatedInteraction:
        """Pick values in a select menu of a stored message."""
        stored = stored_message(self.world, message, user_id)
        component = find_component(stored, custom_id)
        return await self._component(stored, component, values, user_id)

    async def _component(
        self,
        stored: dict[str, Any],
        component: dict[str, Any],
        values: Sequence[Any] | None,
        user_id: int,
    ) -> EmulatedInteraction:
        channel = self.world.channels[int(stored["channel_id"])]
        locate(self.world, user_id, channel.id, CHANNEL_GUILD if channel.guild_id else None)
        data = component_data(self.world, channel, component, values)
        return await dispatch_interaction(
            self, MESSAGE_COMPONENT, user_id, channel, data, source=stored
        )

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        user_id: int = ALICE_ID,
        channel_id: int | None = None,
    ) -> EmulatedInteraction:
        """Submit the modal the bot most recently opened with ``custom_id``."""
        candidates = [
            m
            for m in self.modals
            if m.custom_id == custom_id
            and (channel_id is None or m.interaction.channel_id == channel_id)
        ]
        if not candidates:
            opened = [m.custom_id for m in self.modals]
            raise ValueError(f"the bot never opened a modal {custom_id!r} (opened: {opened})")
        modal = candidates[-1]
        if modal.interaction.user_id != user_id:
            raise ValueError(
                f"modal {custom_id!r} was shown to {modal.interaction.user_id}, not {user_id}"
            )
        channel = self.world.channels[modal.interaction.channel_id]
        data = {"custom_id": custom_id, "components": modal_submit_components(modal, values)}
        source_id = modal.interaction.source_message_id
        source = self.world.messages.get(source_id) if source_id else None
        return await dispatch_interaction(self, MODAL_SUBMIT, user_id, channel, data, source=source)

    # -------------------------------------------------------------- messages

    def message(self, message_id: int | str) -> dict[str, Any]:
        return copy.deepcopy(self.world.messages[int(message_id)])

    def channel_messages(
        self, channel_id: int, *, include_ephemeral: bool = True
    ) -> list[dict[str, Any]]:
        """Messages in a channel (or thread), oldest first, as they now stand."""
        return [
            copy.deepcopy(m)
            for m in self.world.channel_messages(channel_id)
            if include_ephemeral or not m["flags"] & EPHEMERAL
        ]

    @property
    def threads(self) -> list[dict[str, Any]]:
        return [self.world.channel_payload(t) for t in self.world.threads()]

    @property
    def files(self) -> dict[int, StoredFile]:
        return self.world.files

    def attachment_bytes(self, attachment: MessageRef) -> bytes:
        file_id = int(attachment["id"] if isinstance(attachment, dict) else attachment)
        return self.world.files[file_id].data

    def sent_payloads(self, message: MessageRef) -> list[dict[str, Any]]:
        """The request bodies that created and then edited a message (e.g. to check
        ``allowed_mentions``)."""
        message_id = int(message["id"] if isinstance(message, dict) else message)
        return copy.deepcopy(self.message_sources.get(message_id, []))

    def note_message_source(self, message: dict[str, Any], body: dict[str, Any]) -> None:
        self.message_sources.setdefault(int(message["id"]), []).append(copy.deepcopy(body))

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first message in the channel matching ``predicate`` (default: by the bot)."""
        check = predicate or (lambda m: m["author"]["id"] == str(self.bot_user_id))

        def probe() -> dict[str, Any] | None:
            return next(
                (copy.deepcopy(m) for m in self.world.channel_messages(channel_id) if check(m)),
                None,
            )

        return await self.changed.wait_for(
            probe, timeout, f"a message in {channel_id}", self.describe_recent
        )

    async def send_user_message(
        self, channel_id: int, content: str, *, user_id: int = ALICE_ID
    ) -> dict[str, Any]:
        """A user posts in a channel: stored, and MESSAGE_CREATE sent to the bot."""
        channel = locate(self.world, user_id, channel_id, CHANNEL_GUILD)
        message = create_message(self.world, channel, {"content": content}, [], author_id=user_id)
        await events.message_event(self, "MESSAGE_CREATE", message)
        self.changed.notify()
        return copy.deepcopy(message)

    async def _attachment(self, request: web.Request) -> web.Response:
        stored = self.world.files.get(int(request.match_info["file_id"]))
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})

    # ------------------------------------------------------------- reporting

    async def wait_until(
        self, predicate: Callable[[], Any], *, timeout: float = 5.0, what: str = "a condition"
    ) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the emulator sees
        traffic, and at least every 50 ms); returns its value."""

        async def tick() -> None:
            while True:
                await asyncio.sleep(0.05)
                self.changed.notify()

        ticker = asyncio.create_task(tick())
        try:
            return await self.changed.wait_for(
                lambda: predicate() or None, timeout, what, self.describe_recent
            )
        finally:
            ticker.cancel()

    async def wait_for_violation(
        self, kind: str | None = None, *, timeout: float = 5.0
    ) -> Violation:
        def probe() -> Violation | None:
            return next((v for v in self.violations if kind is None or v.kind == kind), None)

        return await self.changed.wait_for(
            probe, timeout, f"a {kind or 'any'} violation", self.describe_recent
        )

    def add_violation(
        self, kind: str, method: str, path: str, message: str, body: Any = None
    ) -> None:
        self.violations.append(Violation(kind, method, path, message, body))
        self.changed.notify()

    def note_unhandled(self, method: str, path: str, reason: str) -> None:
        self.unhandled.append(Unhandled(method, path, reason))

    def requests_to(self, method: str, route: str) -> list[RecordedRequest]:
        """Recorded requests by method and spec template or concrete path."""
        return [
            r for r in self.requests if r.method == method.upper() and route in (r.route, r.path)
        ]

    def describe_recent(self, limit: int = 15) -> str:
        lines = ["recent requests:"] + [f"  {r}" for r in self.requests[-limit:]]
        if self.violations:
            lines += ["violations:"] + [f"  {v}" for v in self.violations]
        if self.unhandled:
            lines += ["unhandled:"] + [f"  {u}" for u in self.unhandled]
        return "\n".join(lines)

    def assert_clean(self, *, ignore: Iterable[str] = ()) -> None:
        """Fail if the client broke the contract or hit routes the emulator does not know.
        ``ignore`` lists violation kinds a test provoked on purpose."""
        skipped = set(ignore)
        violations = [v for v in self.violations if v.kind not in skipped]
        if violations or self.unhandled:
            lines = ["the client broke Discord's contract:"]
            lines += [f"  violation {v}" for v in violations]
            lines += [f"  unhandled {u}" for u in self.unhandled]
            raise AssertionError("\n".join(lines))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


__all__ = [
    "ALICE_ID",
    "BOB_ID",
    "CHANNEL_GUILD",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_GUILD_ID",
    "OWNER_ID",
    "DiscordEmulator",
    "DiscordError",
    "GuildSetup",
    "ShardCounts",
    "Upload",
]
