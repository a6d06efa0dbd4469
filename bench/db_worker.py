"""What the database worker process costs and what it buys.

    .venv/bin/python bench/db_worker.py [--calls 2000]

1. Round trip of a trivial query: direct libsql call, a worker thread (the obvious
   design), and our worker process. Reported as percentiles and as ratios.
2. Event-loop lag while a slow query (about half a second of SQLite work) runs: the
   worst delay a 1 ms asyncio ticker sees, through a worker thread vs our process.
3. A burst: `--burst` calls issued at once through the `Database` (as a burst of
   interactions does), while the event loop also runs a CPU-bound task that holds the
   GIL in 2 ms slices (standing in for discord.py's work): latency of each call from
   its issue to its answer, and the wall time of the whole burst. Run this script from
   an older checkout to compare designs side by side (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libsql

from storage.connection import Connection
from storage.db import Database, DatabaseConfig

SLOW = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2500000) "
    "SELECT COUNT(*) FROM n"
)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(name: str, samples: list[float]) -> dict[str, float]:
    row = {
        "p50_us": statistics.median(samples) * 1e6,
        "p99_us": pct(samples, 0.99) * 1e6,
        "max_us": max(samples) * 1e6,
    }
    print(f"{name:<16} p50 {row['p50_us']:8.1f} µs   p99 {row['p99_us']:8.1f} µs")
    return row


def slow_query(conn: Connection) -> int:
    return int(conn.execute(SLOW).fetchall()[0][0])


async def lag_during(work: asyncio.Future[object]) -> float:
    worst = 0.0
    while not work.done():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - before - 0.001)
    await work
    return worst


def busy(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


async def burst(db: Database, size: int) -> None:
    stop = False

    async def loop_work() -> None:
        while not stop:
            busy(2.0)  # one slice of "discord.py" holding the GIL
            await asyncio.sleep(0)

    async def one() -> float:
        t = time.perf_counter()
        await db.fetchall("SELECT 1")
        return time.perf_counter() - t

    for rep in range(3):
        worker = asyncio.ensure_future(loop_work())
        started = time.perf_counter()
        samples = await asyncio.gather(*(one() for _ in range(size)))
        wall = time.perf_counter() - started
        stop = True
        await worker
        stop = False
        print(
            f"burst {rep + 1}: {size} concurrent SELECT 1 with a busy loop: "
            f"p50 {statistics.median(samples) * 1000:.2f} ms, "
            f"p99 {pct(list(samples), 0.99) * 1000:.2f} ms, "
            f"max {max(samples) * 1000:.2f} ms, wall {wall * 1000:.1f} ms"
        )


async def main(calls: int, burst_size: int) -> None:
    folder = Path(tempfile.mkdtemp())
    path = folder / "bench.db"
    raw = libsql.connect(str(path), isolation_level=None)
    direct = []
    for _ in range(calls):
        t = time.perf_counter()
        raw.execute("SELECT 1").fetchall()
        direct.append(time.perf_counter() - t)

    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1)
    threaded = []
    for _ in range(calls):
        t = time.perf_counter()
        await loop.run_in_executor(pool, lambda: raw.execute("SELECT 1").fetchall())
        threaded.append(time.perf_counter() - t)

    db = Database(DatabaseConfig(url=f"file:{path}"))
    await db.open()
    process = []
    for _ in range(calls):
        t = time.perf_counter()
        await db.fetchall("SELECT 1")
        process.append(time.perf_counter() - t)

    print(f"Round trip of SELECT 1, {calls} calls each:")
    d = summary("direct (blocks)", direct)
    th = summary("worker thread", threaded)
    pr = summary("worker process", process)
    print(
        f"process / thread p50 ratio: {pr['p50_us'] / th['p50_us']:.2f}; "
        f"process / direct: {pr['p50_us'] / d['p50_us']:.1f}"
    )

    thread_lag = await lag_during(loop.run_in_executor(pool, lambda: raw.execute(SLOW).fetchall()))
    process_lag = await lag_during(asyncio.ensure_future(db.run(slow_query)))
    print("Worst event-loop lag while a ~0.5 s query runs:")
    print(f"  worker thread : {thread_lag * 1000:8.1f} ms")
    print(f"  worker process: {process_lag * 1000:8.1f} ms")
    print(f"  thread / process ratio: {thread_lag / max(process_lag, 1e-6):.0f}x")
    await burst(db, burst_size)
    await db.close()
    pool.shutdown()
    raw.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=500)
    parsed = parser.parse_args()
    asyncio.run(main(parsed.calls, parsed.burst))
