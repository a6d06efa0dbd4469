"""The async face of the database: awaitable calls served by one worker process.

See `storage/worker.py` for why the connection lives in a process of its own. Calls are
written to that process's pipe by the event loop as they come and their answers read
back by it (`storage/pipe.py`): pipelined, in order, with no thread in between.

A call's timeout runs from the moment it is the one the worker is working on (the
answers come back in order, so that is when the answer before it arrived), as when calls
waited in line for a thread: a long queue does not time out the calls at its tail. A call
that hangs past it, or a worker that dies, takes only the call it was running with it:
the worker is killed and replaced, and the calls queued behind, which it never started,
are sent again to the new one.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import libsql

from storage.connection import (
    Connection,
    DatabaseConfig,
    DatabaseError,
    Params,
    Row,
    op_execute,
    op_fetchall,
    op_fetchone,
    op_in_transaction,
)
from storage.pipe import WorkerPipe, frame
from storage.worker import WorkerProcess

__all__ = ["Connection", "Database", "DatabaseConfig", "DatabaseError", "Row"]

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

_STOPPED = "the database worker stopped; it will restart"


@dataclass(slots=True)
class _Call:
    data: bytes
    future: asyncio.Future[Any]


class _Link:
    """One running worker and the calls written to it, oldest first."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.pipe: WorkerPipe | None = None
        self.sent: deque[_Call] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.alive = True


class Database:
    def __init__(self, config: DatabaseConfig, *, call_timeout: float = 30.0) -> None:
        self.config = config
        self.call_timeout = call_timeout
        # Starting and stopping worker processes blocks (spawn, the ready handshake,
        # join): that is all this thread does.
        self._executor: ThreadPoolExecutor | None = None
        self._link: _Link | None = None
        self._waiting: deque[_Call] = deque()  # while no worker is up
        self._starting: asyncio.Task[None] | None = None
        self._reader: Connection | None = None  # `read` on an embedded file

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="libsql")
        try:
            await self._start_worker()
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        log.info("database opened", extra={"db_mode": self.config.mode})

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        link, self._link = self._link, None
        for call in self._waiting:
            _fail(call, DatabaseError("the database is closed"))
        self._waiting.clear()
        if link is not None:
            # The worker answers what it was sent, then reads `None` and leaves.
            pending = [c.future for c in link.sent]
            if link.alive and link.pipe is not None:
                link.pipe.send(frame(None))
                if pending:
                    await asyncio.wait(pending, timeout=self.call_timeout)
            self._drop(link, DatabaseError("the database is closed"))
            await asyncio.get_running_loop().run_in_executor(executor, link.worker.stop)
        executor.shutdown(wait=True)

    @property
    def is_open(self) -> bool:
        return self._executor is not None

    @property
    def worker_pid(self) -> int | None:
        return self._link.worker.pid if self._link is not None else None

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run the module-level function `fn(connection, *args)` in the database process."""
        if self._executor is None:
            raise DatabaseError("the database is not open")
        try:
            data = frame((fn, args, kwargs))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(f"database calls must be module-level functions: {exc}") from exc
        call = _Call(data, asyncio.get_running_loop().create_future())
        link = self._link
        if link is not None and link.alive and not self._waiting:
            self._send(link, call)
        else:
            self._waiting.append(call)
            self._ensure_worker()
        result: T = await call.future
        return result

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """A short read bounded by an index (a LIMIT, never a scan). On an embedded file
        it runs here, on a read-only connection of this process: no hop to the worker,
        which costs more than such a read (bench/quota.py: a round trip 0.09 ms, the
        quota's SQL 0.05 ms), and the loop is held only for the read itself. While the
        worker is committing, the file is locked for a moment: then, as for a replica,
        a remote database or `:memory:` (another database in each connection), the
        read goes to the worker like any call; so does one that fails here for any
        other reason (the worker gives the answer, or the error, as for any call).
        `fn` must only read: this connection refuses writes."""
        reader = self._reader_here()
        if reader is not None:
            try:
                return fn(reader, *args, **kwargs)
            except (ValueError, RuntimeError) as exc:  # libsql's engine errors
                if not DatabaseError(str(exc)).is_locked:
                    log.warning("a read in this process failed; asking the worker", exc_info=True)
                    self._reader = None
                    reader.close()
        return await self.run(fn, *args, **kwargs)

    def _reader_here(self) -> Connection | None:
        if self._reader is not None or self._executor is None:
            return self._reader
        path = self.config.local_path
        if self.config.mode != "embedded" or path is None or not path.exists():
            return None
        raw = libsql.connect(str(path), isolation_level=None)
        # Never write from here, and never wait for a lock on the loop: a busy file
        # sends the read to the worker instead.
        raw.execute("PRAGMA query_only = 1")
        raw.execute("PRAGMA busy_timeout = 0")
        self._reader = Connection(raw)
        return self._reader

    # --- the pipeline ---------------------------------------------------------------
    def _send(self, link: _Link, call: _Call) -> None:
        assert link.pipe is not None
        link.pipe.send(call.data)
        link.sent.append(call)
        if len(link.sent) == 1:
            self._arm(link)

    def _arm(self, link: _Link) -> None:
        """The deadline of the call at the head: the one the worker is running."""
        if link.timer is not None:
            link.timer.cancel()
        link.timer = asyncio.get_running_loop().call_later(self.call_timeout, self._timed_out, link)

    def _answered(self, link: _Link, message: tuple[str, Any]) -> None:
        if not link.sent:
            return  # an answer after its call was failed: the link is being dropped
        call = link.sent.popleft()
        if link.timer is not None:
            link.timer.cancel()
            link.timer = None
        if link.sent:
            self._arm(link)
        status, payload = message
        if call.future.done():
            return  # its caller went away (cancelled); the work was done all the same
        if status == "ok":
            call.future.set_result(payload)
        else:
            call.future.set_exception(payload)

    def _timed_out(self, link: _Link) -> None:
        # A hung call (e.g. an unreachable Turso) must not wedge every later call.
        self._replace(
            link, DatabaseError(f"the database did not answer within {self.call_timeout:g} s")
        )

    def _lost(self, link: _Link, exc: Exception | None) -> None:
        if link.alive:
            self._replace(link, DatabaseError(_STOPPED))

    def _replace(self, link: _Link, error: DatabaseError) -> None:
        """Fail the call the worker was running, kill the worker, and queue the calls it
        never started for the next one."""
        if self._link is link:
            self._link = None
        if link.sent:
            _fail(link.sent.popleft(), error)
        self._waiting.extendleft(reversed(link.sent))
        link.sent.clear()
        self._drop(link, error)
        if self._executor is not None:
            self._executor.submit(link.worker.kill)
            if self._waiting:
                self._ensure_worker()

    def _drop(self, link: _Link, error: DatabaseError) -> None:
        link.alive = False
        if link.timer is not None:
            link.timer.cancel()
            link.timer = None
        for call in link.sent:
            _fail(call, error)
        link.sent.clear()
        if link.pipe is not None and link.pipe.transport is not None:
            link.pipe.transport.close()

    def _ensure_worker(self) -> None:
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        try:
            await self._start_worker()
        except BaseException as exc:
            error = exc if isinstance(exc, Exception) else DatabaseError(str(exc))
            while self._waiting:
                _fail(self._waiting.popleft(), error)
            if not isinstance(exc, Exception):
                raise

    async def _start_worker(self) -> None:
        executor = self._executor
        assert executor is not None
        loop = asyncio.get_running_loop()
        worker = WorkerProcess(self.config)
        await loop.run_in_executor(executor, worker.start)
        link = _Link(worker)
        pipe = WorkerPipe(
            lambda message: self._answered(link, message), lambda exc: self._lost(link, exc)
        )
        link.pipe = pipe
        await loop.create_unix_connection(lambda: pipe, sock=worker.take_socket())
        if self._executor is None:  # closed meanwhile
            self._drop(link, DatabaseError("the database is closed"))
            await loop.run_in_executor(executor, worker.kill)
            return
        self._link = link
        while self._waiting and link.alive:
            self._send(link, self._waiting.popleft())

    async def transaction(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(connection, *args, **kwargs)` inside BEGIN IMMEDIATE … COMMIT (rolled back if it
        raises)."""
        result: T = await self.run(op_in_transaction, fn, args, kwargs)
        return result

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write; return the number of rows it changed."""
        return await self.run(op_execute, sql, tuple(params))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.run(op_fetchall, sql, tuple(params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self.run(op_fetchone, sql, tuple(params))

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            row = await asyncio.wait_for(self.fetchone("SELECT 1 AS ok"), timeout)
        except (TimeoutError, DatabaseError):
            return False
        return row is not None and row.get("ok") == 1


def _fail(call: _Call, error: BaseException) -> None:
    if not call.future.done():
        call.future.set_exception(error)
