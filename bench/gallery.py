"""How long one gallery page takes to build, as the table grows.

    .venv/bin/python bench/gallery.py [--sizes 1000,10000,100000] [--samples 400]

For each size, an embedded database gets that many `lora_trainings` rows in the web
app's format (90% completed, 12 Are.na image URLs each, 2,000 creators), inserted with
one executemany in one transaction inside the database process. Then "build a page"
means what a click costs the bot: the query through the database process plus the
embeds and buttons, for random pages anywhere in the gallery (any anchor, first, last,
previous, next). It is timed three ways:

- keyset, total cached: the bot's usual click (the total is reused for a few seconds);
- keyset, total counted: a new /loras, or the first click after the total expired;
- load all (the seed's lora.list): every completed row in one query, parsed, then the
  page sliced out. Run inside the database process, so it is not even charged for
  sending the rows back: a generous lower bound.

Then the first page of a fresh /loras (its total included), and the filtered cases:
one creator's LoRAs, a search that matches nothing (without an index, the worst case of
a substring search: it reads every completed row's trigger word) and a search for one
LoRA's whole trigger word. `--skip-load-all` leaves out the seed's approach (about 13 s
a run at 1M rows). Run from an older checkout to compare side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.gallery import LORAS_PER_PAGE, Gallery, PageRef
from cogs.gallery.page import gallery_layout
from cogs.gallery.render import GENERATED_PER_PAGE
from storage.db import Connection, Database, DatabaseConfig
from storage.keyset import Mode
from storage.loras import COLUMNS, Lora, LoraFilter, to_lora
from storage.migrate import migrate

INSERT = (
    "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
    "image_urls, lora_weights_url, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
WALLETS = 2000


def wallet(n: int) -> str:
    return "0x" + f"{n:040x}"


def op_seed(conn: Connection, count: int, seed: int) -> None:
    """Runs in the database process: `count` rows, one transaction."""
    rng = random.Random(seed)
    start = 1_700_000_000.0
    rows = []
    for n in range(count):
        lora_id = rng.randbytes(16).hex()
        moment = start + n * 37 + rng.random()
        created = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
            + f".{int(moment % 1 * 1000):03d}Z"
        )
        urls = [
            f"https://d2w9rnfcy7mm78.cloudfront.net/{20_000_000 + n * 12 + k}/original_{rng.randbytes(16).hex()}.jpg?1695613220?bc=0"
            for k in range(12)
        ]
        rows.append(
            (
                lora_id,
                rng.randbytes(16).hex(),
                wallet(rng.randrange(WALLETS)),
                f"style{n}_{rng.randbytes(3).hex()}",
                rng.choice((500, 1000, 2000)),
                json.dumps(urls),
                f"https://v3.fal.media/files/rabbit/{lora_id[:12]}/pytorch_lora_weights.safetensors",
                "completed" if rng.random() < 0.9 else rng.choice(("pending", "failed")),
                created,
            )
        )
    with conn.transaction():
        conn.executemany(INSERT, rows)


def op_completed_ids(conn: Connection) -> list[str]:
    return [
        r["id"] for r in conn.fetchall("SELECT id FROM lora_trainings WHERE status = 'completed'")
    ]


def op_load_all_page(conn: Connection, page: int, size: int) -> list[Lora]:
    """The seed's gallery: every completed LoRA, newest first, parsed; then one page."""
    rows = conn.fetchall(
        f"SELECT {COLUMNS} FROM lora_trainings WHERE status = 'completed' ORDER BY created_at DESC"
    )
    loras = [to_lora(row) for row in rows]
    return loras[page * size : (page + 1) * size]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    await fn()  # warm-up (validators, caches, the worker's page cache)
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - started)
    return out


async def build(gallery: Gallery, filters: LoraFilter, ref: PageRef) -> None:
    page = await gallery.page(filters, ref)
    gallery_layout(page).to_components()


def op_some_trigger_word(conn: Connection, lora_id: str) -> str:
    row = conn.fetchone("SELECT trigger_word FROM lora_trainings WHERE id = ?", (lora_id,))
    return str(row["trigger_word"]) if row else "sks"


def random_ref(rng: random.Random, ids: list[str]) -> PageRef:
    roll = rng.random()
    if roll < 0.05:
        return PageRef(Mode.FIRST, 1)
    if roll < 0.10:
        return PageRef(Mode.LAST, 1)
    mode = Mode.OLDER if roll < 0.55 else Mode.NEWER
    return PageRef(mode, rng.randrange(1, 10_000), rng.choice(ids))


async def measure(
    size: int, samples: int, load_all_runs: int, folder: Path
) -> list[tuple[str, list[float]]]:
    db = Database(DatabaseConfig(url=f"file:{folder / f'gallery-{size}.db'}"), call_timeout=3600)
    await db.open()
    try:
        await migrate(db)
        started = time.perf_counter()
        await db.run(op_seed, size, size)
        print(f"  {size:,} rows inserted in {time.perf_counter() - started:.1f} s", flush=True)
        ids = await db.run(op_completed_ids)
        rng = random.Random(1)
        cached = Gallery(db, page_size=LORAS_PER_PAGE, images_per_page=GENERATED_PER_PAGE)
        counted = Gallery(
            db, page_size=LORAS_PER_PAGE, images_per_page=GENERATED_PER_PAGE, count_ttl=0
        )
        everyone = LoraFilter()
        creator = LoraFilter(wallet=wallet(7))
        nothing = LoraFilter(search="no such trigger")
        rare = LoraFilter(search=await db.run(op_some_trigger_word, ids[len(ids) // 2]))
        pages = len(ids) // LORAS_PER_PAGE
        results = [
            (
                "first page, fresh total",
                await timed(lambda: build(counted, everyone, PageRef()), samples),
            ),
            (
                "keyset, total cached",
                await timed(lambda: build(cached, everyone, random_ref(rng, ids)), samples),
            ),
            (
                "keyset, total counted",
                await timed(lambda: build(counted, everyone, random_ref(rng, ids)), samples),
            ),
            (
                "load all + slice (seed)",
                await timed(
                    lambda: db.run(op_load_all_page, rng.randrange(pages), LORAS_PER_PAGE),
                    load_all_runs,
                )
                if load_all_runs
                else [float("nan")],
            ),
            (
                "one creator, counted",
                await timed(lambda: build(counted, creator, PageRef()), samples // 4),
            ),
            (
                "search, no match, counted",
                await timed(lambda: build(counted, nothing, PageRef()), samples // 8),
            ),
            (
                "search, one word, counted",
                await timed(lambda: build(counted, rare, PageRef()), samples // 8),
            ),
        ]
    finally:
        await db.close()
    return results


async def main(sizes: list[int], samples: int, skip_load_all: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="gallery-bench-"))
    table: dict[int, list[tuple[str, list[float]]]] = {}
    for size in sizes:
        print(f"{size:,} LoRAs", flush=True)
        load_all_runs = 0 if skip_load_all else max(8, min(40, 2_000_000 // size))
        table[size] = await measure(size, samples, load_all_runs, folder)
    print()
    print(
        f"Page build = query through the database process + embeds + buttons ({LORAS_PER_PAGE} LoRAs a page)"
    )
    print(f"{'rows':>9}  {'approach':<26} {'runs':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for size, results in table.items():
        for name, values in results:
            print(
                f"{size:>9,}  {name:<26} {len(values):>5} {pct(values, 0.5) * 1e3:>9.3f} {pct(values, 0.99) * 1e3:>9.3f}"
            )
    print()
    print("load all / keyset (total cached), at p50 and p99:")
    for size, results in table.items():
        by_name = dict(results)
        keyset, counted, load_all = (
            by_name["keyset, total cached"],
            by_name["keyset, total counted"],
            by_name["load all + slice (seed)"],
        )
        print(
            f"{size:>9,}  {pct(load_all, 0.5) / pct(keyset, 0.5):>8.0f}x  {pct(load_all, 0.99) / pct(keyset, 0.99):>8.0f}x"
            f"   (vs total counted: {pct(load_all, 0.5) / pct(counted, 0.5):.0f}x p50)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument(
        "--skip-load-all", action="store_true", help="skip the seed's approach (slow at 1M)"
    )
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.samples, args.skip_load_all))
