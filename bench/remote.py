"""A remote Turso database: what each interaction's database work costs per round trip.

    .venv/bin/python bench/remote.py [--latency 0.020] [--runs 30] [--loras 1000]

Against the project's Hrana 3 fake (tests/fakes/hrana) with `--latency` seconds added to
every HTTP request (a stand-in for the round trip to Turso), each interaction kind's
database work is run through:

- **libsql-worker**: the bot's `Database` with `TURSO_CLIENT=libsql` (libsql 0.1.11 in
  the worker process: two requests per statement);
- **hrana-worker**: the bot's `Database` as it runs now (`storage/hrana_http.py` in the
  worker process: one request per statement on a kept-alive connection);
- **turso-serverless-thread**: the official pure-Python `turso-serverless` client, one
  connection used from a thread (`asyncio.to_thread`), the same storage functions on it.
  Measured only when `turso_serverless` can be imported (`pip install turso-serverless`,
  or `TURSO_SERVERLESS_PATH=DIR` for a `pip install --target DIR`).

Reported per kind: p50 / p99 latency, HTTP requests per interaction (from the fake's own
log), SQL statements per interaction and TCP connections opened per interaction (each
one a TLS handshake more against real Turso, which loopback HTTP cannot show). The statements count is the floor for a client
that sends each statement in one request, and one request per interaction is what
sending an operation's statements as one `/v3/pipeline` would cost where the statements
do not depend on each other's results.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.gallery import Gallery, PageRef
from bot.services.quota import QuotaLedger
from storage import loras, wallets
from storage.connection import Connection, op_execute, op_fetchall, op_fetchone
from storage.db import Database, DatabaseConfig
from storage.loras import LoraFilter
from storage.migrate import migrate
from tests.fakes.hrana.server import HranaServer
from tests.support.gallery_rows import insert_loras, link_wallet, lora_row

TOKEN = "bench-token"
WALLET = "0x" + "ab" * 20


class CountingConnection(Connection):
    """Counts the statements an operation sends."""

    statements = 0

    def execute(self, sql: str, params: Any = ()) -> Any:
        CountingConnection.statements += 1
        return super().execute(sql, params)

    def fetchall(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        CountingConnection.statements += 1
        cursor = self.raw.execute(sql, tuple(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class ThreadDatabase:
    """The `Database` calls the storage modules make, run on one turso-serverless
    connection from a thread (one at a time, as a DB-API connection requires)."""

    def __init__(self, url: str) -> None:
        import turso_serverless

        self.conn = CountingConnection(turso_serverless.connect(url, auth_token=TOKEN))
        self.lock = threading.Lock()

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self.lock:
            return fn(self.conn, *args, **kwargs)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._call, fn, args, kwargs)

    async def transaction(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def inside(conn: Connection, *a: Any, **k: Any) -> Any:
            with conn.transaction():
                return fn(conn, *a, **k)

        return await self.run(inside, *args, **kwargs)

    async def execute(self, sql: str, params: Any = ()) -> int:
        return int(await self.run(op_execute, sql, tuple(params)))

    async def fetchall(self, sql: str, params: Any = ()) -> Any:
        return await self.run(op_fetchall, sql, tuple(params))

    async def fetchone(self, sql: str, params: Any = ()) -> Any:
        return await self.run(op_fetchone, sql, tuple(params))


def kinds(db: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    gallery, ledger = Gallery(db), QuotaLedger(db)

    async def wallet_status() -> Any:
        link = await wallets.get_link(db, 100)
        assert link is not None
        return await ledger.status(link.wallet_address)

    return {
        "/loras first page": lambda: gallery.page(LoraFilter(), PageRef(), fresh=True),
        "/loras Next": lambda: gallery.page(LoraFilter(), PageRef(), fresh=False),
        "/lora autocomplete": lambda: loras.suggest(db, "neo"),
        "/wallet status": wallet_status,
    }


async def measure(
    name: str, db: Any, server: HranaServer, runs: int, statements: Callable[[], int]
) -> dict[str, tuple[float, float, float, float]]:
    out: dict[str, tuple[float, float, float, float]] = {}
    for kind, work in kinds(db).items():
        await work()  # warm-up
        samples, requests, stmts, opened = [], [], [], []
        for _ in range(runs):
            before, before_s = len(server.requests), statements()
            before_c = server.connections_opened
            started = time.perf_counter()
            await work()
            samples.append(time.perf_counter() - started)
            requests.append(len(server.requests) - before)
            stmts.append(statements() - before_s)
            opened.append(server.connections_opened - before_c)
        ordered = sorted(samples)
        out[kind] = (
            statistics.median(ordered),
            ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            statistics.mean(requests),
            statistics.mean(stmts) if statements() >= 0 else float("nan"),
        )
        p50, p99, req, st = out[kind]
        print(
            f"  {name:<24} {kind:<20} p50 {p50 * 1e3:7.1f} ms  p99 {p99 * 1e3:7.1f} ms  "
            f"{req:4.1f} requests  {st:4.1f} statements  "
            f"{statistics.mean(opened):4.1f} connections opened",
            flush=True,
        )
    return out


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="remote-bench-"))
    path = folder / "primary.db"
    try:
        local = Database(DatabaseConfig(url=f"file:{path}"))
        await local.open()
        await migrate(local)
        await insert_loras(
            local, [lora_row(minutes=n, trigger_word=f"neon {n}") for n in range(args.loras)]
        )
        await link_wallet(local, 100, WALLET)
        await local.close()
        with HranaServer(path, auth_token=TOKEN) as server:
            server.latency = args.latency
            print(f"{args.latency * 1e3:.0f} ms added to every HTTP request, {args.runs} runs each")
            for client in ("libsql", "hrana"):
                config = DatabaseConfig(url=server.url, auth_token=TOKEN, remote_client=client)
                db = Database(config, call_timeout=60)
                await db.open()
                try:
                    await measure(f"{client}-worker", db, server, args.runs, lambda: -1)
                finally:
                    await db.close()
            if args.turso_path:
                sys.path.insert(0, args.turso_path)
            try:
                import turso_serverless  # noqa: F401
            except ImportError:
                print("  turso-serverless is not installed: skipped")
                return
            thread_db = ThreadDatabase(server.url)
            await measure(
                "turso-serverless-thread",
                thread_db,
                server,
                args.runs,
                lambda: CountingConnection.statements,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.020)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--loras", type=int, default=1000)
    parser.add_argument("--turso-path", default=os.environ.get("TURSO_SERVERLESS_PATH"))
    asyncio.run(main(parser.parse_args()))
