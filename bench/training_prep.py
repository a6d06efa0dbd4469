"""Preparing a training set: download + zip + upload, sequential against concurrent.

    .venv/bin/python bench/training_prep.py [--images 200] [--size-mb 2] [--concurrency 8]
                                            [--latency-ms 20] [--no-trace]

A server process runs the fake Are.na (API and image host) and the fake fal storage
(`tests/fakes/`), each image answered after `--latency-ms` (a CDN's time to first byte:
on loopback with no latency, a download costs almost nothing and concurrency could not
matter). The fake storage keeps only the size of what it receives, so its memory stays
out of the picture.

Each configuration runs in a fresh worker process, which reads the channel, then times
`prepare_training_zip` (download + zip on disk) and `upload_zip` (fal-client to the fake
storage) and reports, per phase, the peak resident memory above the worker's resident
memory just before the phase (Linux `VmHWM`, reset through `/proc/self/clear_refs`).
A second run of each configuration under `tracemalloc` reports the peak of Python
allocations (slower: its times are not reported).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MB = 1024 * 1024
SLUG = "bench-channel"


# --- Server process -------------------------------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    from tests.fakes.arena import FakeArena
    from tests.fakes.fal_storage import FakeFalStorage

    arena = await FakeArena().start()
    arena.add_channel(SLUG, title="Benchmark", images=args.images, others={"Text": 5})
    arena.default_image_size = int(args.size_mb * MB)
    arena.image_latency = args.latency_ms / 1000
    storage = await FakeFalStorage(keep_bytes=False).start()
    print(json.dumps({"arena": arena.base_url, "storage": storage.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            files = [{"size": f.size, "route": f.route} for f in storage.files.values()]
            print(json.dumps({"files": files}), flush=True)
            storage.files.clear()
    await arena.stop()
    await storage.stop()


# --- Worker process ---------------------------------------------------------------------------


def memory_kib() -> tuple[int, int]:
    """(resident now, peak resident since the last reset), in KiB."""
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return memory_kib()[0]


async def work(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    from bot.clients.arena import ArenaClient
    from bot.clients.fal import FalStorage, configure_storage_endpoints
    from bot.services.training.images import (
        arena_image_fetcher,
        prepare_training_zip,
        upload_zip,
    )

    configure_storage_endpoints(args.storage, args.storage)
    size = int(args.size_mb * MB)
    result: dict[str, Any] = {"concurrency": args.concurrency, "trace": args.trace}
    async with aiohttp.ClientSession() as session:
        channel = await ArenaClient(session, args.arena).fetch_channel(SLUG)
        fetcher = arena_image_fetcher(
            session, allowed_hosts=("127.0.0.1",), concurrency=args.concurrency, timeout=120
        )
        storage = FalStorage("bench-key:secret", timeout=600)

        if args.trace:
            tracemalloc.start()
        base = reset_peak()
        started = time.perf_counter()
        prepared = await prepare_training_zip(
            fetcher,
            channel.images,
            max_total_bytes=size * len(channel.images) + MB,
            max_image_bytes=size + MB,
            concurrency=args.concurrency,
            minimum=1,
        )
        result["prepare_s"] = time.perf_counter() - started
        result["prepare_peak_mib"] = (memory_kib()[1] - base) / 1024
        if args.trace:
            result["prepare_traced_mib"] = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.reset_peak()

        base = reset_peak()
        started = time.perf_counter()
        url = await upload_zip(storage, prepared.path)
        result["upload_s"] = time.perf_counter() - started
        result["upload_peak_mib"] = (memory_kib()[1] - base) / 1024
        if args.trace:
            result["upload_traced_mib"] = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()

        result["images"] = prepared.image_count
        result["skipped"] = len(prepared.skipped)
        result["zip_bytes"] = prepared.path.stat().st_size
        result["url"] = url
        digest = hashlib.sha256()
        with prepared.path.open("rb") as zipped:
            while chunk := zipped.read(MB):
                digest.update(chunk)
        result["zip_sha256"] = digest.hexdigest()
        prepared.cleanup()
    return result


# --- Driver -------------------------------------------------------------------------------------


def run_worker(
    args: argparse.Namespace, urls: dict[str, str], concurrency: int, trace: bool
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--arena",
        urls["arena"],
        "--storage",
        urls["storage"],
        "--concurrency",
        str(concurrency),
        "--size-mb",
        str(args.size_mb),
    ]
    if trace:
        command.append("--trace")
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size-mb", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--arena", help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        asyncio.run(serve(args))
        return
    if args.worker:
        print(json.dumps(asyncio.run(work(args))))
        return

    total_mb = args.images * args.size_mb
    print(
        f"{args.images} images x {args.size_mb:g} MB = {total_mb:g} MB, "
        f"{args.latency_ms:g} ms per image request, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--images",
            str(args.images),
            "--size-mb",
            str(args.size_mb),
            "--latency-ms",
            str(args.latency_ms),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        urls = json.loads(server.stdout.readline())
        rows = []
        for concurrency in (1, args.concurrency):
            timed = run_worker(args, urls, concurrency, trace=False)
            server.stdin.write("stats\n")
            server.stdin.flush()
            received = json.loads(server.stdout.readline())["files"]
            assert [f["size"] for f in received] == [timed["zip_bytes"]], (received, timed)
            timed["route"] = received[0]["route"]
            if not args.no_trace:
                traced = run_worker(args, urls, concurrency, trace=True)
                server.stdin.write("stats\n")
                server.stdin.flush()
                server.stdout.readline()
                timed["prepare_traced_mib"] = traced["prepare_traced_mib"]
                timed["upload_traced_mib"] = traced["upload_traced_mib"]
            rows.append(timed)
    finally:
        server.stdin.close()
        server.wait(timeout=30)

    def cell(row: dict[str, Any], key: str, unit: str) -> str:
        value = row.get(key)
        return f"{value:.2f} {unit}" if isinstance(value, float) else "-"

    print(f"zip: {rows[0]['zip_bytes'] / MB:.1f} MiB, upload route: {rows[0]['route']}\n")
    header = ["", *(f"concurrency {r['concurrency']}" for r in rows)]
    lines = [
        ("download + zip, wall", "prepare_s", "s"),
        ("  peak RSS above start", "prepare_peak_mib", "MiB"),
        ("  tracemalloc peak", "prepare_traced_mib", "MiB"),
        ("upload, wall", "upload_s", "s"),
        ("  peak RSS above start", "upload_peak_mib", "MiB"),
        ("  tracemalloc peak", "upload_traced_mib", "MiB"),
    ]
    width = 26
    print(header[0].ljust(width) + "".join(h.rjust(18) for h in header[1:]))
    for label, key, unit in lines:
        print(label.ljust(width) + "".join(cell(r, key, unit).rjust(18) for r in rows))
    totals = [r["prepare_s"] + r["upload_s"] for r in rows]
    print("total, wall".ljust(width) + "".join(f"{t:.2f} s".rjust(18) for t in totals))
    print(
        f"\nsequential / concurrent: download + zip {rows[0]['prepare_s'] / rows[1]['prepare_s']:.1f}x, "
        f"total {totals[0] / totals[1]:.1f}x"
    )


if __name__ == "__main__":
    main()
