"""The shared quota at a million images: `QuotaLedger.status()` and `reserve()` through the
real database worker.

    .venv/bin/python bench/quota.py [--rows 1000000] [--samples 400]

One database, migrated by the bot's own `migrate`, holding `--rows` `generated_images`
rows written as the web app writes them (ISO 8601 with milliseconds and a Z, lower-case
addresses) and `--rows`/4 `generation_batches`:

- heavy: a wallet with 100,000 web-app images, all within the last 24 hours, and no bot
  batch; the bot asks with the checksummed (mixed-case) form of its address;
- typical: a wallet with 4 web-app images (one web batch) and one completed bot batch in
  the last 24 hours;
- the rest spread over 10,000 wallets and 30 days.

`status()` is timed as `/wallet status` calls it; `reserve()` is timed alone (for the
heavy wallet it is the refusal, which also reads the status; for the typical one each
reservation is released again, untimed, so the wallet never fills up). The same script
runs against the code before and after the shared quota (it uses only `QuotaLedger`);
`--without-index` drops migration 0014's index on `(lower(wallet_address), created_at)`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libsql

from bot.services.quota import QuotaExceeded, QuotaLedger
from storage import generation_batches
from storage.db import Database, DatabaseConfig
from storage.migrate import migrate

DAY = 86_400.0
WALLETS = 10_000
HEAVY_IMAGES = 100_000
HEAVY = "0xAbCdEf00000000000000000000000000000000aA"
TYPICAL = "0x00000000000000000000000000000000000000b7"
IMAGE_INSERT = (
    "INSERT INTO generated_images (id, lora_training_id, wallet_address, prompt, image_url, "
    "image_width, image_height, seed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
BATCH_INSERT = (
    "INSERT INTO generation_batches (id, wallet_address, discord_user_id, lora_training_id, "
    "prompt, status, image_count, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def stamp(moment: float) -> str:
    """ISO 8601 UTC with milliseconds and a Z, like the web app's `toISOString()`."""
    whole = int(moment)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        + f".{int((moment - whole) * 1000):03d}Z"
    )


def other(n: int) -> str:
    return "0x" + f"{n + 1000:040x}"


def build(path: Path, rows: int, now: float) -> None:
    rng = random.Random(1)
    images: list[tuple[float, str]] = [
        (now - rng.random() * (DAY - 60), HEAVY.lower()) for _ in range(HEAVY_IMAGES)
    ]
    images += [(now - 3600.0 - k, TYPICAL.lower()) for k in range(4)]
    images += [
        (now - rng.random() * 30 * DAY, other(rng.randrange(WALLETS)))
        for _ in range(rows - len(images))
    ]
    images.sort()
    batches: list[tuple[float, str]] = [(now - 7200.0, TYPICAL)]
    batches += [
        (now - rng.random() * 30 * DAY, other(rng.randrange(WALLETS))) for _ in range(rows // 4)
    ]
    batches.sort()
    conn = libsql.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA cache_size = -400000")  # this bulk load only
    conn.execute("BEGIN")
    conn.executemany(
        IMAGE_INSERT,
        [
            (
                rng.randbytes(16).hex(),
                "0" * 32,
                owner,
                "a cat in a hat",
                "https://v3.fal.media/files/tiger/x.jpeg",
                1024,
                1024,
                "1",
                stamp(moment),
            )
            for moment, owner in images
        ],
    )
    conn.executemany(
        BATCH_INSERT,
        [
            (
                rng.randbytes(16).hex(),
                owner,
                "42",
                "0" * 32,
                "a cat in a hat",
                "completed",
                4,
                stamp(moment),
                stamp(moment + 5),
            )
            for moment, owner in batches
        ],
    )
    conn.execute("COMMIT")
    conn.close()


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn: Callable[[], Awaitable[Any]], samples: int, budget: float) -> list[float]:
    await fn()
    out: list[float] = []
    deadline = time.perf_counter() + budget
    while len(out) < samples and (len(out) < 20 or time.perf_counter() < deadline):
        started = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - started)
    return out


async def timed_reserve(
    ledger: QuotaLedger, wallet: str, samples: int, budget: float
) -> list[float]:
    """Each reservation timed alone; a granted one is released again, untimed."""
    out: list[float] = []
    deadline = time.perf_counter() + budget
    for k in range(samples + 1):
        if k > 20 and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        try:
            reservation = await ledger.reserve(wallet, user_id=42, lora_id="0" * 32, prompt="p")
        except QuotaExceeded:
            reservation = None
        elapsed = time.perf_counter() - started
        if reservation is not None:
            await ledger.release(reservation)
        if k:  # the first one warms up
            out.append(elapsed)
    return out


def sql_alone(conn: Any, wallet: str, window_start: str, fresh_after: str, limit: int) -> float:
    """Runs in the database worker: the time of `status()`'s SQL alone."""
    started = time.perf_counter()
    generation_batches.in_db_used(conn, wallet, window_start, fresh_after, limit)
    return time.perf_counter() - started


def select_one(conn: Any) -> int:
    return int(conn.fetchone("SELECT 1 AS one")["one"])


def report(label: str, name: str, values: list[float]) -> None:
    print(
        f"  {label:<10} {name:<8} {len(values):>5} runs  "
        f"p50 {pct(values, 0.5) * 1e3:8.3f} ms  p99 {pct(values, 0.99) * 1e3:8.3f} ms",
        flush=True,
    )


async def run(rows: int, samples: int, without_index: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="quota-shared-bench-"))
    path = folder / "quota.db"
    now = time.time()
    try:
        db = Database(DatabaseConfig(url=f"file:{path}"), call_timeout=600)
        await db.open()
        await migrate(db)
        await db.close()
        started = time.perf_counter()
        build(path, rows, now)
        if without_index:  # what migration 0014's index is worth
            conn = libsql.connect(str(path), isolation_level=None)
            conn.execute("DROP INDEX IF EXISTS idx_gen_images_wallet_lower_created")
            conn.close()
            print("  without idx_gen_images_wallet_lower_created")
        print(f"  {rows:,} images, {rows // 4:,} batches in {time.perf_counter() - started:.1f} s")
        db = Database(DatabaseConfig(url=f"file:{path}"), call_timeout=600)
        await db.open()
        try:
            ledger = QuotaLedger(db, clock=lambda: datetime.fromtimestamp(now, UTC))
            for name, who in (("heavy", HEAVY), ("typical", TYPICAL)):
                status = await ledger.status(who)
                print(f"  {name}: used {status.used} of {status.limit}")

                values = await timed(lambda w=who: ledger.status(w), samples, 6.0)
                report("status()", name, values)
                start, fresh = ledger.window_bounds()
                alone = [
                    await db.run(sql_alone, who, start, fresh, ledger.limit) for _ in range(samples)
                ]
                report("its SQL", name, alone)
                values = await timed_reserve(ledger, who, samples, 6.0)
                report("reserve()", name, values)
            report("round trip", "SELECT 1", await timed(lambda: db.run(select_one), samples, 6.0))
        finally:
            await db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument(
        "--without-index", action="store_true", help="drop migration 0014's expression index"
    )
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), "
        f"Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    asyncio.run(run(args.rows, args.samples, args.without_index))


if __name__ == "__main__":
    main()
