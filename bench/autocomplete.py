"""`/lora` autocomplete: the database's suggest through the worker vs the in-memory index.

    .venv/bin/python bench/autocomplete.py [--loras 100000] [--samples 200]

One embedded database with `--loras` completed LoRAs (trigger words as bench/load.py
makes them). Timed: `loras.suggest` (what the cog calls today, through the database
process) and `LoraIndex.suggest_now` (bot/services/lora_index.py: no database call),
for a prefix, a substring, a substring matching nothing and an empty box; plus the
index's load time, and one freshness check when nothing changed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.lora_index import LoraIndex
from storage import loras
from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from tests.support.gallery_rows import insert_loras, lora_row

WORDS = ("neon", "velvet", "paper", "glass", "ember", "moss", "chrome", "ink", "dune", "frost")
NOUNS = ("city", "portrait", "garden", "ship", "forest", "robot", "market", "river")
TYPED = {"prefix": "velv", "substring": "arden 12", "no match": "zzqx", "empty": ""}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(work: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        await work()
        out.append(time.perf_counter() - started)
    return out


async def main(count: int, samples: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="autocomplete-bench-"))
    db = Database(DatabaseConfig(url=f"file:{folder / 'a.db'}"), call_timeout=3600)
    await db.open()
    try:
        await migrate(db)
        for start in range(0, count, 50_000):
            rows = [
                lora_row(minutes=n, trigger_word=f"{WORDS[n % 10]} {NOUNS[n // 10 % 8]} {n}")
                for n in range(start, min(count, start + 50_000))
            ]
            await insert_loras(db, rows)
        index = LoraIndex(db)
        started = time.perf_counter()
        await index.refresh()
        print(f"{count:,} LoRAs; index loaded in {(time.perf_counter() - started) * 1e3:.0f} ms")
        check = await timed(index.refresh, 50)
        print(f"  freshness check, nothing changed: p50 {pct(check, 0.5) * 1e3:.3f} ms")
        for name, text in TYPED.items():
            db_times = await timed(lambda t=text: loras.suggest(db, t), samples)

            async def from_memory(t: str = text) -> Any:
                return index.suggest_now(t)

            mem_times = await timed(from_memory, samples)
            assert index.suggest_now(text) == await loras.suggest(db, text)
            print(
                f"  {name:<10} database p50 {pct(db_times, 0.5) * 1e3:8.3f} p99 "
                f"{pct(db_times, 0.99) * 1e3:8.3f} ms | memory p50 "
                f"{pct(mem_times, 0.5) * 1e3:8.3f} p99 {pct(mem_times, 0.99) * 1e3:8.3f} ms"
            )
    finally:
        await db.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loras", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.loras, args.samples))
