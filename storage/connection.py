"""The synchronous side of the database: what runs inside the worker process."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsql

Params = Sequence[Any]
Row = dict[str, Any]


class DatabaseError(Exception):
    """The database could not do what was asked (unreachable, locked, full, bad SQL)."""

    @property
    def is_full(self) -> bool:
        """SQLITE_FULL: the disk (or the database's size limit) is full."""
        return "database or disk is full" in str(self)

    @property
    def is_locked(self) -> bool:
        """SQLITE_BUSY / SQLITE_LOCKED after the busy timeout's retries."""
        return "database is locked" in str(self) or "database table is locked" in str(self)


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "file:data/lora-bot.db"
    auth_token: str | None = None
    sync_url: str | None = None
    sync_interval: float | None = None
    busy_timeout_ms: int = 5000
    # Remote only: reconnect before a call after this many idle seconds (servers expire
    # idle Hrana streams after 10 s; see storage/worker.py).
    remote_idle_limit: float = 5.0
    # Remote only: "hrana" (storage/hrana_http.py, one request per statement on a
    # kept-alive connection) or "libsql" (two requests per statement).
    remote_client: str = "hrana"

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file:") or self.url == ":memory:"

    @property
    def local_path(self) -> Path | None:
        if not self.url.startswith("file:"):
            return None
        raw = self.url[len("file:") :].removeprefix("//")
        return Path(raw.split("?", 1)[0])

    @property
    def uses_hrana_http(self) -> bool:
        return self.mode == "remote" and self.remote_client != "libsql"

    @property
    def mode(self) -> str:
        if self.sync_url:
            return "embedded-replica"
        return "embedded" if self.is_local else "remote"

    def __repr__(self) -> str:
        # The auth token never appears in a repr (and so never in a log line).
        token = "set" if self.auth_token else "unset"
        return f"DatabaseConfig(url={self.url!r}, auth_token={token}, mode={self.mode!r})"


class Connection:
    """A libSQL connection with rows as dicts and explicit transactions."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> Any:
        return self.raw.execute(sql, tuple(params))

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self.raw.execute(sql, tuple(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self.raw.executemany(sql, [tuple(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """`BEGIN IMMEDIATE` takes the write lock up front, so a read-then-write inside
        cannot be raced by another process."""
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            # Some errors (SQLITE_FULL, an I/O error) already rolled the transaction back;
            # a second ROLLBACK would fail and hide the real error.
            if self.raw.in_transaction:
                with suppress(ValueError, RuntimeError, DatabaseError):
                    self.raw.execute("ROLLBACK")
            raise
        else:
            self.raw.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


def open_connection(config: DatabaseConfig) -> Connection:
    if config.uses_hrana_http:
        return _open_hrana(config)
    kwargs: dict[str, Any] = {"isolation_level": None}
    if config.auth_token:
        kwargs["auth_token"] = config.auth_token
    if config.sync_url:
        kwargs["sync_url"] = config.sync_url
        if config.sync_interval:
            kwargs["sync_interval"] = config.sync_interval
    path = config.local_path
    if path is not None and path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        raw = libsql.connect(str(path) if path is not None else config.url, **kwargs)
        if config.sync_url:
            raw.sync()
        elif not config.is_local:
            # libsql connects lazily: ask once, so a wrong URL or token fails here.
            raw.execute("SELECT 1").fetchall()
    except ValueError as exc:
        if config.mode == "embedded":
            raise
        raise DatabaseError(_cannot_reach(config, exc)) from exc
    if config.is_local:
        raw.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout_ms)}")
    return Connection(raw)


def _open_hrana(config: DatabaseConfig) -> Connection:
    from storage.hrana_http import HranaConnection  # it imports DatabaseError from here

    raw = HranaConnection(config.url, config.auth_token)
    try:
        raw.execute("SELECT 1")  # so a wrong URL or token fails at open
    except DatabaseError as exc:
        raw.close()
        raise DatabaseError(_cannot_reach(config, exc)) from None
    return Connection(raw)


def _cannot_reach(config: DatabaseConfig, exc: Exception) -> str:
    where = config.sync_url or config.url
    status = re.search(r"status=(\d{3})", str(exc))
    if status and status[1] in ("401", "403"):
        return f"{where} refused the auth token (HTTP {status[1]}): check TURSO_AUTH_TOKEN"
    return f"{where} did not answer as a libSQL server: {exc}"


# --- Small module-level operations (the worker runs functions by name) ---------------
def op_execute(conn: Connection, sql: str, params: Params) -> int:
    return int(conn.execute(sql, params).rowcount)


def op_fetchall(conn: Connection, sql: str, params: Params) -> list[Row]:
    return conn.fetchall(sql, params)


def op_fetchone(conn: Connection, sql: str, params: Params) -> Row | None:
    return conn.fetchone(sql, params)


def op_in_transaction(
    conn: Connection, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    with conn.transaction():
        return fn(conn, *args, **kwargs)
