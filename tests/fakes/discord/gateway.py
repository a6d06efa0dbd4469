"""The gateway websocket: HELLO, IDENTIFY/READY, GUILD_CREATE, heartbeats, RESUME with replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

_log = logging.getLogger(__name__)

# Opcodes
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# Intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


@dataclass
class ShardStats:
    """Per-shard counters, kept across sessions so tests can assert "the bot resumed"."""

    connections: int = 0
    identifies: int = 0
    resumes: int = 0
    invalid_sessions: int = 0
    heartbeats: int = 0
    guilds_sent: bool = False
    """READY and every GUILD_CREATE of the latest IDENTIFY have been sent."""


class GatewayConnection:
    """One websocket. Frames are text JSON, or zlib-stream when the URL asks for it."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, compress: bool) -> None:
        self.ws = ws
        self.transport = request.transport
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.session: ShardSession | None = None

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, payload: dict[str, Any]) -> bool:
        data = json.dumps(payload)
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if self._compressor is None:
                    await self.ws.send_str(data)
                else:
                    chunk = self._compressor.compress(data.encode())
                    chunk += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(chunk)
            except (ConnectionError, RuntimeError):
                return False
        return True

    async def close(self, code: int) -> None:
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(self.ws.close(code=code, message=b"emulator"), 2)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


@dataclass
class ShardSession:
    """A gateway session (one per successful IDENTIFY) with its event log for RESUME."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    token: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    conn: GatewayConnection | None = None
    presence: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def dispatch(self, event: str, data: Any) -> None:
        async with self.lock:
            await self._dispatch_locked(event, data)

    async def _dispatch_locked(self, event: str, data: Any) -> None:
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.events.append(frame)
        if self.conn is not None and not await self.conn.send(frame):
            self.conn = None


class Gateway:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.sessions: dict[int, ShardSession] = {}
        self._all_sessions: dict[str, ShardSession] = {}
        self.stats: defaultdict[int, ShardStats] = defaultdict(ShardStats)
        self.connections: set[GatewayConnection] = set()

    def shard_for_guild(self, guild_id: int) -> int:
        return (guild_id >> 22) % self.emu.shard_count

    # -------------------------------------------------------------- websocket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = self.emu.gateway_compression and request.query.get("compress") == "zlib-stream"
        conn = GatewayConnection(ws, request, compress)
        self.connections.add(conn)
        try:
            await conn.send(
                {
                    "op": HELLO,
                    "d": {
                        "heartbeat_interval": self.emu.heartbeat_interval,
                        "_trace": ["discord-emulator"],
                    },
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await self._fail(conn, 4002, "Decode error", f"non-text frame {msg.type!r}")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await self._fail(conn, 4002, "Decode error", msg.data[:200])
                    break
                try:
                    keep_going = await self._on_payload(conn, payload)
                except Exception as exc:  # an emulator bug: make it visible, do not hang
                    _log.exception("emulator error handling gateway payload %r", payload)
                    self.emu.note_unhandled("WS", "/gateway", f"emulator error: {exc!r}")
                    await conn.close(1011)
                    break
                if not keep_going:
                    break
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
            self.emu.changed.notify()
        return ws

    async def _fail(self, conn: GatewayConnection, code: int, reason: str, detail: str) -> None:
        self.emu.add_violation("gateway", "WS", "/gateway", f"close {code} {reason}: {detail}")
        await conn.close(code)

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> bool:
        op, data = payload.get("op"), payload.get("d")
        if op == HEARTBEAT:
            if conn.session is not None:
                self.stats[conn.session.shard_id].heartbeats += 1
            return await conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        if op == IDENTIFY:
            return await self._identify(conn, data or {})
        if op == RESUME:
            return await self._resume(conn, data or {})
        if conn.session is None:
            await self._fail(conn, 4003, "Not authenticated", f"op {op} before IDENTIFY")
            return False
        if op == PRESENCE_UPDATE:
            conn.session.presence = data
            return True
        if op == VOICE_STATE:
            return True
        if op == REQUEST_MEMBERS:
            await self._request_members(conn.session, data or {})
            return True
        await self._fail(conn, 4001, "Unknown opcode", f"op {op}")
        return False

    # -------------------------------------------------------- identify/resume

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> bool:
        emu = self.emu
        if conn.session is not None:
            await self._fail(conn, 4005, "Already authenticated", "second IDENTIFY")
            return False
        token = str(data.get("token", ""))
        if not token or (emu.token is not None and token != emu.token):
            await conn.close(4004)
            return False
        shard = data.get("shard") or [0, 1]
        shard_id, shard_count = int(shard[0]), int(shard[1])
        if not 0 <= shard_id < shard_count:
            await self._fail(conn, 4010, "Invalid shard", f"shard {shard}")
            return False
        if "intents" not in data:
            await self._fail(conn, 4013, "Invalid intent(s)", "IDENTIFY without intents")
            return False
        intents = int(data["intents"])
        if emu.allowed_privileged_intents is not None and (
            intents & PRIVILEGED_INTENTS & ~emu.allowed_privileged_intents
        ):
            await conn.close(4014)
            return False

        session = ShardSession(uuid.uuid4().hex, shard_id, shard_count, intents, token)
        self.sessions[shard_id] = session
        self._all_sessions[session.session_id] = session
        stats = self.stats[shard_id]
        stats.connections += 1
        stats.identifies += 1
        stats.guilds_sent = False
        conn.session = session
        session.conn = conn

        owned = [
            g
            for g in emu.world.guilds.values()
            if shard_count == 1 or (g.id >> 22) % shard_count == shard_id
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": {
                **emu.world.user_payload(emu.bot_user_id),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in owned],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": emu.gateway_url,
            "application": {"id": str(emu.application_id), "flags": emu.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["emulated"],
            "user_settings": {},
            "auth": {},
            "_trace": ["discord-emulator"],
        }
        if "shard" in data:
            ready["shard"] = [shard_id, shard_count]
        async with session.lock:
            await session._dispatch_locked("READY", ready)
            if intents & GUILDS:
                for guild in owned:
                    payload = emu.world.guild_create_payload(
                        guild, all_members=bool(intents & GUILD_MEMBERS)
                    )
                    await session._dispatch_locked("GUILD_CREATE", payload)
        stats.guilds_sent = True
        emu.changed.notify()
        return True

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> bool:
        session = self._all_sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != session.token:
            if session is not None or data.get("session_id") is not None:
                shard_id = session.shard_id if session else 0
                self.stats[shard_id].invalid_sessions += 1
            await conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            self.emu.changed.notify()
            return True
        seq = data.get("seq") or 0
        old = session.conn
        async with session.lock:
            for frame in session.events:
                if frame["s"] > seq:
                    await conn.send(frame)
            conn.session = session
            session.conn = conn
            await session._dispatch_locked("RESUMED", {"_trace": ["discord-emulator"]})
        if old is not None and old is not conn:
            await old.close(4000)
        stats = self.stats[session.shard_id]
        stats.connections += 1
        stats.resumes += 1
        self.emu.changed.notify()
        return True

    async def _request_members(self, session: ShardSession, data: dict[str, Any]) -> None:
        world = self.emu.world
        guild_ids = data.get("guild_id")
        for raw_id in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = world.guilds.get(int(raw_id or 0))
            if guild is None:
                continue
            member_ids = list(dict.fromkeys([*guild.members, world.bot.id]))
            wanted = data.get("user_ids")
            query = (data.get("query") or "").lower()
            if wanted:
                member_ids = [m for m in member_ids if str(m) in {str(w) for w in wanted}]
            elif query:
                member_ids = [
                    m for m in member_ids if world.users[m].username.lower().startswith(query)
                ]
            chunk: dict[str, Any] = {
                "guild_id": str(guild.id),
                "members": [world.member_payload(guild, m) for m in member_ids],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------ public API

    async def dispatch(
        self, event: str, data: Any, *, shard_id: int, intent: int | None = None
    ) -> bool:
        """Send a DISPATCH on a shard's session (buffered for RESUME if it is disconnected)."""
        session = self.sessions.get(shard_id)
        if session is None:
            return False
        if intent is not None and not session.intents & intent:
            return False
        await session.dispatch(event, data)
        return True

    async def drop(self, shard_id: int, code: int | None) -> None:
        session = self.sessions.get(shard_id)
        if session is None or session.conn is None:
            raise RuntimeError(f"shard {shard_id} has no open gateway connection")
        conn, session.conn = session.conn, None
        if code is None:
            conn.abort()
        else:
            await conn.close(code)

    async def send_op(self, shard_id: int, op: int, data: Any) -> None:
        session = self.sessions.get(shard_id)
        if session is None or session.conn is None:
            raise RuntimeError(f"shard {shard_id} has no open gateway connection")
        await session.conn.send({"op": op, "d": data, "s": None, "t": None})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.close(1001)
