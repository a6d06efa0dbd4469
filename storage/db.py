"""The async face of the database: awaitable calls served by one worker process.

See `storage/worker.py` for why the connection lives in a process of its own. Calls are
serialised through one thread that talks to that process, so the event loop never
waits on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

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
from storage.worker import WorkerProcess

__all__ = ["Connection", "Database", "DatabaseConfig", "DatabaseError", "Row"]

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class Database:
    def __init__(self, config: DatabaseConfig, *, call_timeout: float = 30.0) -> None:
        self.config = config
        self.call_timeout = call_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._worker: WorkerProcess | None = None

    async def open(self) -> None:
        if self._worker is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="libsql")
        worker = WorkerProcess(self.config)
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, worker.start)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._worker = worker
        log.info("database opened", extra={"db_mode": self.config.mode})

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if worker is not None:
            await asyncio.get_running_loop().run_in_executor(executor, worker.stop)
        executor.shutdown(wait=True)

    @property
    def is_open(self) -> bool:
        return self._worker is not None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run the module-level function `fn(connection, *args)` in the database process."""
        worker, executor = self._worker, self._executor
        if worker is None or executor is None:
            raise DatabaseError("the database is not open")
        loop = asyncio.get_running_loop()
        result: T = await loop.run_in_executor(
            executor, worker.call, fn, args, kwargs, self.call_timeout
        )
        return result

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
