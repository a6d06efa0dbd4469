"""The HTTP side of the fake Hrana server: streams and their batons, faults, and the
endpoints (`/v3/pipeline`, `/v3/cursor`, the replica's `/info`, `/export`, `/sync`).
See `tests/fakes/hrana/__init__.py` for what the client sends and what is faked."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from tests.fakes.hrana.protocol import RUNS_SQL, Stream, error, run_batch, run_request
from tests.fakes.hrana.sqlite import Database, SqlError, WalFrames

FaultKind = Literal["sql_error", "http_error", "malformed", "drop", "drop_after", "delay"]
GENERATION = 1


@dataclass
class Fault:
    """One misbehaviour for the next `times` HTTP requests whose path starts with `path`,
    whose body contains `match` and, for a pipeline, holds a `request` of that type
    (`describe`, `batch`, …) — each only when given."""

    kind: FaultKind
    message: str = "database is locked"
    code: str = "SQLITE_BUSY"
    status: int = 500
    seconds: float = 30.0
    match: str | None = None
    request: str | None = None
    path: str = "/v3/"
    times: int = 1

    def applies(self, path: str, raw: bytes, body: Any) -> bool:
        if self.times <= 0 or not path.startswith(self.path):
            return False
        if self.match is not None and self.match.encode() not in raw:
            return False
        if self.request is None:
            return True
        requests = body.get("requests", []) if isinstance(body, dict) else []
        return any(isinstance(r, dict) and r.get("type") == self.request for r in requests)


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    headers: dict[str, str]  # names in lower case


class BatonError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status, self.body = status, body


class HranaServer:
    """`with HranaServer(path, auth_token=…) as server:` serves `server.url` until the
    block ends. `auth_token`: required as `Authorization: Bearer …` (else 401);
    `stream_ttl`: idle seconds before a stream expires (sqld: 10); `advertise_base_url`:
    sent as `base_url` in answers. Tests read `requests`, add `faults` with `inject`,
    set `latency`, and call `expire_streams()`; `connections_opened` counts TCP
    connections."""

    def __init__(
        self,
        path: Path,
        *,
        auth_token: str | None = None,
        stream_ttl: float = 10.0,
        advertise_base_url: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.auth_token = auth_token
        self.stream_ttl = stream_ttl
        self.advertise_base_url = advertise_base_url
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.latency = 0.0  # added to every request
        self.connections_opened = 0  # TCP connections accepted (keep-alive reuses one)
        self._lock = threading.Lock()
        self._streams: dict[str, Stream] = {}  # baton -> stream
        self._busy: set[Stream] = set()
        self._expired: set[str] = set()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._anchor: Database | None = None
        self.wal = WalFrames(str(self.path) + "-wal")

    # --- life cycle ------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> HranaServer:
        # WAL mode, never checkpointed: the main file is generation 1's export and the
        # WAL its frames. The anchor connection stays open so no close checkpoints either.
        self._anchor = self._connect()
        self._anchor.sequence("PRAGMA journal_mode=WAL; PRAGMA wal_checkpoint(TRUNCATE);")
        handler = type("Handler", (_Handler,), {"hrana": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() returns within 20 ms, not 500
            name="hrana",
            daemon=True,
        ).start()
        threading.Thread(target=self._reap, name="hrana-expiry", daemon=True).start()
        return self

    def _reap(self) -> None:
        # Expire idle streams on time, not only when the next request comes: a request
        # waiting for the write lock of an abandoned transaction needs that lock released.
        while not self._stopping.wait(min(0.5, self.stream_ttl / 4)):
            self._expire_idle()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            sockets, self._sockets = set(self._sockets), set()
            streams = set(self._streams.values()) | self._busy
            self._streams.clear()
        for sock in sockets:
            self._drop(sock)
        for stream in streams:
            stream.db.interrupt()
            if stream.lock.acquire(timeout=5):  # else leak it rather than free it in use
                stream.closed = True
                stream.db.close()
                stream.lock.release()
        if self._anchor is not None:
            self._anchor.close()

    def __enter__(self) -> HranaServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- what tests use ----------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def expire_streams(self) -> int:
        """Forget every idle stream, as a server does after inactivity (rolling back)."""
        with self._lock:
            idle = {b: s for b, s in self._streams.items() if s not in self._busy}
            for baton in idle:
                del self._streams[baton]
            self._expired.update(idle)
        for stream in idle.values():
            self._close_stream(stream)
        return len(idle)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(set(self._streams.values()) | self._busy)

    def pipeline_requests(self) -> list[list[str]]:
        """The request types of every pipeline call so far, e.g. [["describe"], …]."""
        return [
            [r["type"] for r in rec.body["requests"]]
            for rec in self.requests
            if rec.path == "/v3/pipeline" and isinstance(rec.body, dict)
        ]

    # --- streams and batons ------------------------------------------------------------
    def _connect(self) -> Database:
        db = Database(str(self.path))
        db.sequence("PRAGMA wal_autocheckpoint=0;")
        return db

    def _checkout(self, baton: str | None) -> Stream:
        self._expire_idle()
        if baton is None:
            stream = Stream(self._connect())
        else:
            with self._lock:
                found = self._streams.pop(baton, None)
                expired = baton in self._expired
            if found is None:
                if expired:
                    message = "The stream has expired due to inactivity"
                    raise BatonError(400, {"message": message, "code": "STREAM_EXPIRED"})
                raise BatonError(400, {"message": "Received an invalid baton", "code": "BATON"})
            stream = found
        with self._lock:
            self._busy.add(stream)
        return stream

    def _checkin(self, stream: Stream) -> str | None:
        with self._lock:
            self._busy.discard(stream)
            if stream.closed or self._stopping.is_set():
                baton = None
            else:
                baton = secrets.token_urlsafe(18)
                stream.last_used = time.monotonic()
                self._streams[baton] = stream
        if baton is None:
            self._close_stream(stream)
        return baton

    def _close_stream(self, stream: Stream) -> None:
        with stream.lock:
            stream.closed = True
            stream.db.close()  # an open transaction rolls back

    def _expire_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [b for b, s in self._streams.items() if now - s.last_used > self.stream_ttl]
            streams = [self._streams.pop(b) for b in old]
            self._expired.update(old)
        for stream in streams:
            self._close_stream(stream)

    # --- Hrana requests ----------------------------------------------------------------
    def pipeline(self, body: dict[str, Any], fail: SqlError | None = None) -> dict[str, Any]:
        """Run the requests on the baton's stream; with `fail`, every statement-running
        request answers that error instead (the stream itself carries on)."""
        stream = self._checkout(body.get("baton"))
        results: list[dict[str, Any]] = []
        try:
            with stream.lock:
                for request in body.get("requests", []):
                    try:
                        if stream.closed:
                            raise SqlError("The stream is closed", "STREAM_CLOSED")
                        if fail is not None and request.get("type") in RUNS_SQL:
                            raise fail
                        results.append({"type": "ok", "response": run_request(stream, request)})
                    except SqlError as exc:
                        results.append({"type": "error", "error": error(exc)})
        finally:
            baton = self._checkin(stream)
        return {"baton": baton, "base_url": self.advertise_base_url, "results": results}

    def cursor(self, body: dict[str, Any], fail: SqlError | None = None) -> list[dict[str, Any]]:
        stream = self._checkout(body.get("baton"))
        entries: list[dict[str, Any]] = []
        try:
            with stream.lock:
                if fail is not None:
                    entries.append({"type": "step_error", "step": 0, "error": error(fail)})
                else:
                    run_batch(stream, body.get("batch", {}), entries)
        finally:
            baton = self._checkin(stream)
        return [{"baton": baton, "base_url": self.advertise_base_url}, *entries]

    # --- embedded-replica sync ------------------------------------------------------
    def export(self, generation: int) -> bytes | None:
        return self.path.read_bytes() if generation == GENERATION else None

    def frames(self, generation: int, first: int, end: int) -> bytes:
        return self.wal.read(first, end) if generation == GENERATION else b""

    # --- faults ----------------------------------------------------------------------
    def _take_fault(self, path: str, raw: bytes, body: Any) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.applies(path, raw, body):
                    fault.times -= 1
                    return fault
        return None

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    hrana: HranaServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.hrana._lock:
            self.hrana._sockets.add(self.connection)
            self.hrana.connections_opened += 1

    def finish(self) -> None:
        with self.hrana._lock:
            self.hrana._sockets.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.wfile.write(head.encode() + body)  # one write: no Nagle/delayed-ACK stall

    def _json(self, status: int, body: Any) -> None:
        self._reply(status, json.dumps(body).encode())

    def _serve(self) -> None:
        server = self.hrana
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        with server._lock:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server.requests.append(Recorded(self.command, path, body, headers))
        if server.latency:
            server._stopping.wait(server.latency)
        expected = None if server.auth_token is None else f"Bearer {server.auth_token}"
        if expected is not None and self.headers.get("Authorization") != expected:
            self._json(401, {"message": "Unauthorized: bad or missing auth token"})
            return
        fault = server._take_fault(path, raw, body)
        if fault is not None:
            if fault.kind == "delay":
                server._stopping.wait(fault.seconds)
            elif fault.kind == "drop":
                self.close_connection = True
                server._drop(self.connection)
                return
            elif fault.kind == "http_error":
                self._json(fault.status, {"message": fault.message, "code": fault.code})
                return
            elif fault.kind == "malformed":
                self._reply(200, b'{"baton": "x", "results": [{"type": "ok", "respo')
                return
        fail = SqlError(fault.message, fault.code) if fault and fault.kind == "sql_error" else None
        try:
            status, payload, content_type = self._route(path, body, fail)
        except BatonError as exc:
            status, payload = exc.status, json.dumps(exc.body).encode()
            content_type = "application/json"
        if fault is not None and fault.kind == "drop_after":
            self.close_connection = True
            server._drop(self.connection)
            return
        self._reply(status, payload, content_type)

    def _route(self, path: str, body: Any, fail: SqlError | None) -> tuple[int, bytes, str]:
        server, method = self.hrana, self.command
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v3/pipeline" and isinstance(body, dict):
            return 200, json.dumps(server.pipeline(body, fail)).encode(), "application/json"
        if method == "POST" and path == "/v3/cursor" and isinstance(body, dict):
            lines = [json.dumps(entry) for entry in server.cursor(body, fail)]
            return 200, ("\n".join(lines) + "\n").encode(), "text/plain"
        if method == "GET" and path in ("/v3", "/v2", "/health"):
            return 200, b"", "text/plain"
        if method == "GET" and path == "/version":
            return 200, b"hrana-fake (sqlite)", "text/plain"
        if method == "GET" and path == "/info":
            body_out = {"current_generation": GENERATION}
            return 200, json.dumps(body_out).encode(), "application/json"
        if method == "GET" and len(parts) == 2 and parts[0] == "export" and parts[1].isdigit():
            data = server.export(int(parts[1]))
            if data is not None:
                return 200, data, "application/octet-stream"
        numbers = all(p.isdigit() for p in parts[1:])
        if method == "GET" and len(parts) == 4 and parts[0] == "sync" and numbers:
            generation, first, end = (int(p) for p in parts[1:])
            frames = server.frames(generation, first, end)
            if frames:
                return 200, frames, "application/octet-stream"
            # "Nothing more in this generation": the client reads the latest generation.
            return 400, json.dumps({"generation": GENERATION}).encode(), "application/json"
        return (
            404,
            json.dumps({"message": f"no route {method} {path}"}).encode(),
            "application/json",
        )
