"""The libSQL connection lives in a child process of its own.

libsql 0.1.11 keeps Python's GIL for the whole of every call, network round trips to
Turso included (measured: a 500 ms server delay stalled every other thread for 500 ms).
A worker *thread* therefore cannot keep the event loop responsive; a worker *process*
can. The parent sends `(function, args, kwargs)` over a pipe, the child runs
`function(connection, *args, **kwargs)` and sends back the result or the exception, one
call after another in the order they came (the parent relies on that order).
Functions must be importable module-level functions (they are pickled by name).

For `libsql://` and `http(s)://` URLs the child runs our own Hrana client
(`storage/hrana_http.py`, one request per statement) instead of libsql; it lives here
all the same, so both clients share one design and one way of healing.

If the child dies (crash, kill, out of memory) or a call hangs past its timeout, the
parent kills it and starts a fresh one on the next call: the bot heals itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import socket
import time
from typing import Any

from storage.connection import DatabaseConfig, DatabaseError, open_connection

log = logging.getLogger(__name__)

_READY_TIMEOUT = 60.0
_CONTEXT = multiprocessing.get_context("spawn")


def _stream_broken(exc: BaseException) -> bool:
    """A failure of libsql's HTTP exchange itself (status, transport, JSON), not an SQL
    error reported inside a good answer ("stream error", "error at step")."""
    text = str(exc)
    return text.startswith("Hrana:") and not ("stream error" in text or "error at step" in text)


def _child_main(pipe: multiprocessing.connection.Connection, config: DatabaseConfig) -> None:
    # Ctrl-C goes to the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn = open_connection(config)
    except BaseException as exc:
        pipe.send(("error", DatabaseError(str(exc))))
        return
    pipe.send(("ready", os.getpid()))
    # sqld and Turso close a Hrana stream after 10 s without a request, and libsql 0.1.11
    # never recovers a connection whose stream is gone (expired, or its answer lost): it
    # resends the dead baton forever (tursodatabase/libsql-python#41). It also keeps a
    # stream open after every query. So a remote connection idle for longer than
    # `remote_idle_limit` is replaced before use, and one whose HTTP exchange failed is
    # replaced after the error (that call still fails: it may or may not have run).
    # Our own Hrana client (storage/hrana_http.py) keeps no stream between calls and
    # reconnects by itself: it needs none of this.
    remote = config.mode != "embedded" and not config.uses_hrana_http
    broken, last_used = False, time.monotonic()
    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            break  # the parent is gone
        if message is None:
            break
        fn, args, kwargs = message
        if remote and (broken or time.monotonic() - last_used > config.remote_idle_limit):
            try:
                conn.close()
                del conn  # gone (a replica's sync task with it) before another one opens
                conn = open_connection(config)
            except BaseException as exc:
                pipe.send(("error", DatabaseError(str(exc))))
                return  # the parent starts a fresh worker for the next call
        try:
            reply: tuple[str, Any] = ("ok", fn(conn, *args, **kwargs))
        except (ValueError, RuntimeError) as exc:
            # libsql reports every engine error as ValueError/RuntimeError.
            reply = ("error", exc if isinstance(exc, DatabaseError) else DatabaseError(str(exc)))
        except BaseException as exc:
            reply = ("error", exc)
        broken = reply[0] == "error" and _stream_broken(reply[1])
        last_used = time.monotonic()
        try:
            pipe.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            pipe.send(("error", DatabaseError(f"result could not be sent back: {exc}")))
    conn.close()


class WorkerProcess:
    """One child process holding one connection. `start` and `stop` block (the
    `Database` runs them in a thread); calls travel over `take_socket()`, read and
    written by the event loop (`storage/pipe.py`)."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: multiprocessing.connection.Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        parent, child = _CONTEXT.Pipe(duplex=True)
        process = _CONTEXT.Process(
            target=_child_main, args=(child, self.config), name="libsql-worker", daemon=True
        )
        process.start()
        child.close()
        self._process, self._pipe = process, parent
        if not parent.poll(_READY_TIMEOUT):
            self.kill()
            raise DatabaseError("the database worker did not start in time")
        try:
            status, payload = parent.recv()
        except EOFError:
            self.kill()
            raise DatabaseError("the database worker exited while opening the database") from None
        if status != "ready":
            self.kill()
            raise payload
        log.debug("database worker started", extra={"pid": payload})

    def take_socket(self) -> socket.socket:
        """The parent's end of the pipe (a Unix socket pair) as a socket of its own; the
        `Connection` object is closed, so only the event loop reads it from now on."""
        assert self._pipe is not None
        sock = socket.socket(fileno=os.dup(self._pipe.fileno()))
        self._pipe.close()
        self._pipe = None
        return sock

    def stop(self) -> None:
        """Waits for the child to leave (it was sent `None`), then makes sure it has."""
        if self._process is not None and self._process.is_alive():
            self._process.join(5)
        self.kill()

    def kill(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        if self._pipe is not None:
            self._pipe.close()
        self._process, self._pipe = None, None
