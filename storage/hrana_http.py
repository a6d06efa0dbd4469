"""A small synchronous Hrana 3 client over HTTP for remote libSQL (Turso, sqld).

libsql 0.1.11 makes two HTTP requests per statement (`describe`, then the statement)
and `turso-serverless` 0.1.0 opens a new connection per request (a TCP and TLS
handshake per statement against Turso). This one sends each statement as one
`POST /v3/pipeline` on an HTTP/1.1 connection kept alive and reused:

- outside a transaction: `[execute, get_autocommit, close]`, no stream is kept;
- `BEGIN …` opens a stream and keeps its baton; the transaction's statements go on it,
  one request each, and `COMMIT`/`ROLLBACK` closes it in the same request;
- `executemany`: one `batch` whose steps each run only if the one before succeeded.

It stands in for the libsql connection inside `storage.connection.Connection` (the
DB-API subset that class uses: `execute` → cursor, `executemany`, `in_transaction`,
`close`), returning values as libsql does (int, float, str, bytes, None; rows as
tuples). Errors are `DatabaseError`s; the auth token is never part of one.

A kept-alive connection the server closed while idle is noticed before use and
reopened. One that breaks during a request is reopened and the request sent again only
when that cannot change anything (a read outside a transaction); otherwise the call
fails saying the statement may or may not have run, and the transaction, if any, is
gone (the server rolls it back when its stream expires).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import select
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from storage.connection import DatabaseError

_TIMEOUT = 60.0  # per socket operation; the Database's call timeout is the real bound
_READ_ONLY = re.compile(r"^\s*(SELECT|VALUES|EXPLAIN)\b", re.IGNORECASE)
_BEGIN = re.compile(r"^\s*BEGIN\b", re.IGNORECASE)
_END = re.compile(r"^\s*(COMMIT|END|ROLLBACK)\s*(TRANSACTION)?\s*;?\s*$", re.IGNORECASE)
_TRANSPORT = (http.client.HTTPException, ConnectionError, TimeoutError, OSError)


class HranaError(DatabaseError):
    """The HTTP exchange itself failed (status, transport, JSON), not an SQL statement."""


def http_base(url: str) -> str:
    """`libsql://host` is Turso's name for `https://host`."""
    if url.startswith("libsql://"):
        return "https://" + url[len("libsql://") :]
    return url


def encode(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool | int):
        return {"type": "integer", "value": str(int(value))}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "blob", "base64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    raise DatabaseError(f"cannot bind a value of type {type(value).__name__}")


def decode(raw: dict[str, Any]) -> Any:
    kind = raw.get("type")
    if kind == "null":
        return None
    if kind == "integer":
        return int(raw["value"])
    if kind == "float":
        return float(raw["value"])
    if kind == "text":
        return str(raw["value"])
    if kind == "blob":
        text = str(raw["base64"]).rstrip("=")
        return base64.b64decode(text + "=" * (-len(text) % 4))
    raise HranaError(f"Hrana: unknown value type {kind!r} in the server's answer")


class Cursor:
    """The result of one statement, as much of a DB-API cursor as the storage uses."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.description = tuple(
            (col.get("name") or "", None, None, None, None, None, None)
            for col in result.get("cols", ())
        )
        self._rows = [tuple(decode(v) for v in row) for row in result.get("rows", ())]
        self.rowcount = int(result.get("affected_row_count", 0))
        last = result.get("last_insert_rowid")
        self.lastrowid = int(last) if last is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None


def _stmt(sql: str, params: Sequence[Any]) -> dict[str, Any]:
    return {"sql": sql, "args": [encode(v) for v in params], "want_rows": True}


def _sql_error(error: dict[str, Any]) -> DatabaseError:
    message = str(error.get("message") or "the statement failed")
    code = error.get("code")
    return DatabaseError(f"{message} ({code})" if code else message)


class HranaConnection:
    """One logical connection: at most one open stream (a transaction's), over
    kept-alive HTTP connections (one per host: a stream may be pinned to a host)."""

    def __init__(self, url: str, auth_token: str | None, *, timeout: float = _TIMEOUT) -> None:
        self.base_url = http_base(url).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DatabaseError(f"not an http(s):// or libsql:// URL: {url}")
        self._headers = {"Content-Type": "application/json"}
        if auth_token:
            self._headers["Authorization"] = f"Bearer {auth_token}"
        self._timeout = timeout
        self._http: dict[str, http.client.HTTPConnection] = {}
        self._baton: str | None = None
        self._stream_url: str | None = None  # the base_url the server gave the stream
        self.in_transaction = False
        self.requests = 0  # HTTP requests sent, for tests and benchmarks

    # --- the DB-API subset `storage.connection.Connection` uses ---------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        step = {"type": "execute", "stmt": _stmt(sql, params)}
        response = self._statement([step], retry=_READ_ONLY.match(sql) is not None, sql=sql)
        return Cursor(response["result"])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        steps: list[dict[str, Any]] = []
        for i, row in enumerate(rows):
            step: dict[str, Any] = {"stmt": {**_stmt(sql, row), "want_rows": False}}
            if i:
                step["condition"] = {"type": "ok", "step": i - 1}
            steps.append(step)
        response = self._statement([{"type": "batch", "batch": {"steps": steps}}], sql=sql)
        for error in response["result"].get("step_errors", ()):
            if error is not None:
                raise _sql_error(error)

    def close(self) -> None:
        if self._baton is not None:
            self.close_stream()
        for conn in self._http.values():
            conn.close()
        self._http.clear()

    # --- one statement (or batch) in one request ------------------------------------
    def _statement(
        self, requests: list[dict[str, Any]], *, sql: str, retry: bool = False
    ) -> dict[str, Any]:
        opening = self._baton is None and _BEGIN.match(sql) is not None
        ending = self._baton is not None and _END.match(sql) is not None
        keep = (self._baton is not None or opening) and not ending
        body = [*requests, {"type": "get_autocommit"}]
        if not keep:
            body.append({"type": "close"})
        results, baton = self._pipeline(body, retry=retry and self._baton is None)
        # The stream lives on while a transaction is open on it.
        autocommit = results[len(requests)]
        if autocommit.get("type") == "ok":
            self.in_transaction = not autocommit["response"]["is_autocommit"]
        self._baton = baton if keep else None
        if self._baton is not None and not self.in_transaction:
            self.close_stream()  # e.g. an error rolled the transaction back
        if self._baton is None:
            self._stream_url = None
        first = results[0]
        if first.get("type") != "ok":
            raise _sql_error(first.get("error") or {})
        response: dict[str, Any] = first["response"]
        return response

    def close_stream(self) -> None:
        with contextlib.suppress(DatabaseError):  # else the server expires it anyway
            self._pipeline([{"type": "close"}], retry=False)
        self._baton = self._stream_url = None
        self.in_transaction = False

    def _pipeline(
        self, requests: list[dict[str, Any]], *, retry: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        payload = json.dumps({"baton": self._baton, "requests": requests}).encode()
        base = self._stream_url or self.base_url
        status, reason, data = self._post(base, "/v3/pipeline", payload, retry=retry)
        if status != 200:
            self._lose_stream()
            raise HranaError(f"Hrana: HTTP status={status} {reason}: {_message(data)}")
        try:
            answer = json.loads(data)
            results = answer["results"]
            baton = answer.get("baton")
            if not isinstance(results, list) or len(results) != len(requests):
                raise ValueError("wrong number of results")
        except (ValueError, KeyError, TypeError) as exc:
            self._lose_stream()
            raise HranaError(
                f"Hrana: json error: the server's answer is not valid: {exc}"
            ) from None
        if answer.get("base_url"):
            self._stream_url = str(answer["base_url"]).rstrip("/")
        return results, baton

    def _lose_stream(self) -> None:
        self._baton = self._stream_url = None
        self.in_transaction = False

    # --- HTTP ------------------------------------------------------------------------
    def _post(self, base: str, path: str, body: bytes, *, retry: bool) -> tuple[int, str, bytes]:
        for attempt in (1, 2):
            conn = self._connection(base)
            try:
                self.requests += 1
                conn.request("POST", urlsplit(base).path + path, body, self._headers)
                response = conn.getresponse()
                data = response.read()
            except _TRANSPORT as exc:
                conn.close()
                if retry and attempt == 1:
                    continue  # a read outside a transaction: sending it again is harmless
                self._lose_stream()
                if retry:
                    raise HranaError(
                        f"Hrana: the connection to {base} failed: {_what(exc)}"
                    ) from None
                raise HranaError(
                    f"Hrana: the connection closed before the answer came ({_what(exc)}): "
                    "the statement may or may not have run"
                ) from None
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
            return response.status, response.reason, data
        raise AssertionError("unreachable")

    def _connection(self, base: str) -> http.client.HTTPConnection:
        conn = self._http.get(base)
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            conn.close()  # the server closed it while idle: open a new one
        if conn is None:
            parts = urlsplit(base)
            host, port = parts.hostname or "", parts.port
            if parts.scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=self._timeout)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
            self._http[base] = conn
        return conn


def _dropped(sock: Any) -> bool:
    """A kept-alive socket with something to read before we asked: the server closed it
    (or sent what we never asked for). Either way it cannot carry the next request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _what(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _message(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace")
    if isinstance(body, dict) and body.get("message"):
        code = body.get("code")
        return f"{body['message']} ({code})" if code else str(body["message"])
    return data[:200].decode(errors="replace")
