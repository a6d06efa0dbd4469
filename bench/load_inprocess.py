"""Many users at once: how fast the bot acknowledges interactions under load.

    .venv/bin/python bench/load_inprocess.py [--burst 500] [--rate 100] [--seconds 30]
                                   [--loras 1000] [--validation both|on|off]
                                   [--keep-records] [--gc-freeze] [--profile]

The real bot (discord.py, unmodified, every cog) runs against the Discord emulator
(tests/fakes/discord) with an embedded database holding `--loras` completed LoRAs in the
web app's format (tests/support/gallery_rows.py) and a few linked wallets. The interactions are
a round-robin mix of four kinds:

- `/help`;
- a click on Next or Previous of one of 20 `/loras` gallery messages (half by the
  message's owner, which moves it in place, half by someone else, who gets a private
  copy): a keyset page through the database process;
- `/lora` autocomplete with a prefix or a substring of a trigger word;
- `/wallet status` (a linked wallet: its link and its quota through the database).

Two phases:

(a) a burst: `--burst` interactions dispatched at once (as fast as the emulator can
    write them to the gateway). Every one must be acknowledged; reported: `acked_after`
    (the emulator's time from an interaction's dispatch to its accepted callback), and
    the time from the start of the burst. Discord's limit is 3 s; target max < 1 s.
(b) a sustained load: `--rate` interactions a second for `--seconds` seconds, paced on
    a schedule. Target: acknowledgement p99 < 100 ms. Also measured from the scheduled
    time (so a dispatcher that falls behind cannot hide latency), the lag of the event
    loop (a 10 ms ticker measuring its own lateness), garbage-collector pauses, and peak
    memory.

The emulator runs in this process and on the bot's own event loop: every figure
includes the emulator's work (payloads, gateway frames, the HTTP server side of every
REST call, OpenAPI validation of each request body, recording), so they are
pessimistic. To show what is the bot's and what is the emulator's, the whole thing runs
twice by default, each time with a fresh bot and emulator: once as the tests run it
(`emulator validating`), once with the emulator's request-body validation switched off
by this script (`not validating`). The emulator also keeps a record of everything
(requests, gateway frames, interactions) that the bot never would; this script drops the
records of settled interactions every second (`--keep-records` keeps them), because an
ever-growing heap makes Python's full garbage collections, which stop the shared event
loop, longer and longer. Every database call is timed too (queueing included).

What-ifs: `--gc-freeze` calls `gc.freeze()` once the bot is ready, so full collections
skip the objects of start-up; `--switch-interval 0.5` lets the database's worker thread
get the GIL back sooner from a busy event loop (Python's default is 5 ms). `--profile`
adds a cProfile of the sustained phases, own time summed by component (bot, discord.py,
emulator…); the profiler slows everything down, so its latencies are not the figures to
quote.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import logging
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import LoraBot
from cogs import EXTENSIONS
from tests.e2e.conftest import BotHarness
from tests.fakes.discord import DiscordEmulator, EmulatedInteraction, spec
from tests.fakes.discord.driver import CHANNEL_GUILD, dispatch_interaction, locate
from tests.fakes.discord.interactions import AUTOCOMPLETE, command_data
from tests.support.gallery_rows import insert_loras, link_wallet, lora_row

CHANNEL = 7
USERS = list(range(100, 160))  # members of the emulated guild
LINKED = USERS[:12]  # users with a linked wallet (their /wallet status reads the quota)
GALLERY_OWNERS = USERS[:20]  # each opens one /loras message before the measurements
KINDS = ("help", "page click", "autocomplete", "wallet status")
WORDS = ("neon", "velvet", "paper", "glass", "ember", "moss", "chrome", "ink", "dune", "frost")
NOUNS = ("city", "portrait", "garden", "ship", "forest", "robot", "market", "river")
DEADLINE = 3.0
GRACE = DEADLINE + 2.0  # an interaction still unanswered this long after dispatch is lost
TARGET_BURST_MAX = 1.0
TARGET_SUSTAINED_P99 = 0.100


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.1f}"


def kib_of(pid: int | str, field_name: str) -> int:
    """A VmRSS/VmHWM line of /proc/<pid>/status, in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def trigger_word(n: int) -> str:
    return f"{WORDS[n % len(WORDS)]} {NOUNS[n // len(WORDS) % len(NOUNS)]} {n}"


# ----------------------------------------------------------------------- recording


@dataclass
class Sent:
    """One interaction: what the emulator saw, copied out once it settled (so the
    emulator's record of it can be dropped)."""

    kind: str
    scheduled: float  # time.monotonic() it was due (the emulator's clock, without offset)
    ix: EmulatedInteraction | None
    dispatched_at: float = 0.0
    acked_after: float | None = None
    callback_type: int | None = None
    refused: list[str] = field(default_factory=list)
    late: bool = False  # the bot answered after the 3 s deadline (refused as late)

    def harvest(self, now: float) -> bool:
        """True once settled: answered, refused, or lost."""
        ix = self.ix
        if ix is None:
            return True
        self.dispatched_at = ix.dispatched_at
        if ix.callback is None and not ix.rejected and now - ix.dispatched_at < GRACE:
            return False
        self.acked_after, self.callback_type = ix.acked_after, ix.callback_type
        self.refused, self.late = list(ix.rejected), ix.expired
        self.ix = None
        return True


def harvest(sent: list[Sent]) -> int:
    """Settle what can be settled; return how many are still pending."""
    now = time.monotonic()
    return sum(not s.harvest(now) for s in sent)


def forget(emu: DiscordEmulator) -> None:
    """Drop the emulator's records of settled interactions (this script only): its
    request log, its gateway replay buffers, its per-message payload history."""
    now = emu.clock.monotonic()
    emu.requests.clear()
    emu.message_sources.clear()
    for session in emu.gateway.sessions.values():
        session.events.clear()
    for interaction_id, ix in list(emu.interactions.items()):
        if now - ix.dispatched_at > GRACE and (ix.callback is not None or ix.rejected):
            del emu.interactions[interaction_id]
            emu.interactions_by_token.pop(ix.token, None)


async def settle(sent: list[Sent]) -> None:
    while harvest(sent):
        await asyncio.sleep(0.05)


class LagTicker:
    """A 10 ms ticker on the bot's event loop, recording how late each tick wakes."""

    def __init__(self, period: float = 0.010) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(time.perf_counter() - before - self.period)

    def __enter__(self) -> LagTicker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


class GcMeter:
    """Pauses of Python's cyclic garbage collector (they stop the event loop)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class DbMeter:
    """How long the bot's database calls take, queueing included (this script wraps the
    bot's `Database.run`, through which every query goes)."""

    def __init__(self, db: Any) -> None:
        self.calls: list[float] = []
        run = db.run

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await run(*args, **kwargs)
            finally:
                self.calls.append(time.perf_counter() - started)

        db.run = timed

    def take(self) -> list[float]:
        calls, self.calls = self.calls, []
        return calls


class LogCounter(logging.Handler):
    """Counts the bot's warnings and errors (the emulator's load makes some) instead of
    printing hundreds of tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}: {record.getMessage()[:80]}"] += 1


@contextlib.contextmanager
def emulator_validation(on: bool) -> Iterator[None]:
    """With `on=False` the emulator skips its OpenAPI check of request bodies (patched in
    this process only): the same run without most of the emulator's own CPU."""
    saved = spec.validate_body
    if not on:
        spec.validate_body = lambda *_args, **_kwargs: []
    try:
        yield
    finally:
        spec.validate_body = saved


# ------------------------------------------------------------------------ the load


class Load:
    def __init__(self, emu: DiscordEmulator, galleries: list[tuple[int, int]], loras: int) -> None:
        self.emu = emu
        self.galleries = galleries  # (message id, owner)
        self.loras = loras
        self.rng = random.Random(1)
        self.count = 0

    async def fire(self, kind: str) -> EmulatedInteraction:
        rng, emu = self.rng, self.emu
        self.count += 1
        user = USERS[self.count % len(USERS)]
        if kind == "help":
            return await emu.run_command("help", user_id=user, channel_id=CHANNEL)
        if kind == "wallet status":
            user = LINKED[self.count % len(LINKED)]
            return await emu.run_command("wallet status", user_id=user, channel_id=CHANNEL)
        if kind == "autocomplete":
            # What emu.autocomplete() does, without waiting for the answer here.
            n = rng.randrange(self.loras)
            value = trigger_word(n)[: rng.randint(1, 6)] if rng.random() < 0.5 else str(n)
            channel = locate(emu.world, user, CHANNEL, CHANNEL_GUILD)
            command = emu.registry.find("lora", guild_id=channel.guild_id)
            data = command_data(emu.world, channel, command, [], {"lora": value}, focused="lora")
            return await dispatch_interaction(emu, AUTOCOMPLETE, user, channel, data)
        message_id, owner = rng.choice(self.galleries)
        clicker = owner if rng.random() < 0.5 else user
        stored = emu.world.messages[message_id]
        enabled = {
            c.get("label"): c["custom_id"]
            for row in stored.get("components", [])
            for c in row.get("components", [])
            if c.get("custom_id") and not c.get("disabled")
        }
        choices = [enabled[label] for label in ("Next ›", "‹ Previous") if label in enabled]
        return await emu.click(message_id, rng.choice(choices), user_id=clicker)

    async def burst(self, count: int) -> list[Sent]:
        started = time.monotonic()
        kinds = [KINDS[n % len(KINDS)] for n in range(count)]
        interactions = await asyncio.gather(*(self.fire(k) for k in kinds))
        return [Sent(k, started, ix) for k, ix in zip(kinds, interactions, strict=True)]

    async def sustained(self, rate: int, seconds: float, keep_records: bool) -> list[Sent]:
        out: list[Sent] = []
        interval = 1.0 / rate
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            due = start + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = KINDS[n % len(KINDS)]
            out.append(Sent(kind, due, await self.fire(kind)))
            if n % rate == rate - 1:  # once a second
                harvest(out)
                if not keep_records:
                    forget(self.emu)
        return out


@dataclass
class Phase:
    name: str
    sent: list[Sent]
    lags: list[float]
    gc_pauses: list[tuple[int, float]]
    wall: float
    cpu: float
    rss_kib: int
    db_calls: list[float]

    def acked(self, kind: str | None = None) -> list[float]:
        return [
            s.acked_after for s in self.sent if s.acked_after is not None and kind in (None, s.kind)
        ]

    def from_schedule(self) -> list[float]:
        return [
            s.dispatched_at + s.acked_after - s.scheduled
            for s in self.sent
            if s.acked_after is not None
        ]

    def lost(self) -> list[Sent]:
        return [s for s in self.sent if s.acked_after is None]

    def longest_gc(self) -> float:
        return max((p for _, p in self.gc_pauses), default=0.0)


async def measure(
    name: str,
    run: Callable[[], Awaitable[list[Sent]]],
    profile: cProfile.Profile | None,
    db: DbMeter,
) -> Phase:
    db.take()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    with LagTicker() as ticker, GcMeter() as collector:
        if profile is not None:
            profile.enable()
        try:
            sent = await run()
            await settle(sent)
        finally:
            if profile is not None:
                profile.disable()
    return Phase(
        name,
        sent,
        ticker.lags,
        collector.pauses,
        time.perf_counter() - started,
        cpu_seconds() - cpu_before,
        kib_of("self", "VmRSS"),
        db.take(),
    )


@dataclass
class Run:
    name: str
    burst: Phase
    sustained: Phase
    notes: list[str]
    profile: cProfile.Profile | None


@contextlib.asynccontextmanager
async def ready_bot(loras: int) -> AsyncIterator[tuple[LoraBot, DiscordEmulator, Load]]:
    """A fresh emulator and bot, the gallery seeded, 20 /loras messages open, warmed up."""
    folder = Path(tempfile.mkdtemp(prefix="load-bench-"))
    emulator = DiscordEmulator()
    for user in USERS:
        emulator.add_user(user)
    await emulator.start()
    try:
        async with BotHarness(emulator, folder).running(extensions=EXTENSIONS) as bot:
            wallets = [f"0x{n:040x}" for n in range(1, 6)]
            rows = [
                lora_row(minutes=n, trigger_word=trigger_word(n), wallet=wallets[n % 5])
                for n in range(loras)
            ]
            await insert_loras(bot.db, rows)
            for n, user in enumerate(LINKED):
                await link_wallet(bot.db, user, wallets[n % len(wallets)])
            galleries = []
            for owner in GALLERY_OWNERS:
                ix = await emulator.run_command("loras", user_id=owner, channel_id=CHANNEL)
                galleries.append((int((await ix.original())["id"]), owner))
            load = Load(emulator, galleries, loras)
            for n in range(40):  # warm-up: validators, caches, the worker's pages
                await settle([Sent(KINDS[n % 4], time.monotonic(), await load.fire(KINDS[n % 4]))])
            yield bot, emulator, load
    finally:
        await emulator.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def one_run(args: argparse.Namespace, validating: bool) -> Run:
    name = "emulator validating" if validating else "not validating"
    print(f"running: {name}…", flush=True)
    notes: list[str] = []
    with emulator_validation(validating):
        async with ready_bot(args.loras) as (bot, emulator, load):
            gc.collect()
            tracked = len(gc.get_objects())
            if args.gc_freeze:
                gc.freeze()
            db = DbMeter(bot.db)
            rss_ready = kib_of("self", "VmRSS")
            worker_ready = kib_of(bot.db.worker_pid or 0, "VmRSS")
            first = await measure(
                f"(a) burst of {args.burst}, {name}", lambda: load.burst(args.burst), None, db
            )
            if not args.keep_records:
                forget(emulator)
            await asyncio.sleep(1.0)  # let deferred work and edits finish
            profile = cProfile.Profile() if args.profile else None
            second = await measure(
                f"(b) sustained {args.rate}/s for {args.seconds:g} s, {name}",
                lambda: load.sustained(args.rate, args.seconds, args.keep_records),
                profile,
                db,
            )
            store = bot._connection._view_store
            notes += [
                f"{tracked:,} objects tracked by the garbage collector once ready"
                + (" (then frozen: gc.freeze())" if args.gc_freeze else ""),
                f"RSS of this process (bot + emulator): {rss_ready / 1024:.0f} MiB ready, "
                f"{first.rss_kib / 1024:.0f} MiB after the burst, "
                f"{second.rss_kib / 1024:.0f} MiB after the sustained phase",
                f"database worker: {worker_ready / 1024:.0f} MiB RSS ready, "
                f"{kib_of(bot.db.worker_pid or 0, 'VmHWM') / 1024:.0f} MiB peak (VmHWM)",
                f"the bot's caches afterwards: {len(bot.cached_messages)} messages, "
                f"{len(store._views)} message views, "
                f"{len(store._synced_message_views)} synced views, "
                f"{len(store._dynamic_items)} dynamic item classes",
                f"contract violations recorded by the emulator: {len(emulator.violations)} "
                f"({dict(Counter(v.kind for v in emulator.violations))})",
            ]
            if args.gc_freeze:
                gc.unfreeze()
    return Run(name, first, second, notes, profile)


# ----------------------------------------------------------------------- reporting


def report_phase(phase: Phase, target: tuple[str, float]) -> None:
    sent = phase.sent
    lost = phase.lost()
    late = [s for s in lost if s.late]
    deferred = [s for s in sent if s.callback_type in (5, 6)]
    over_1s = [s for s in sent if s.acked_after is not None and s.acked_after > 1.0]
    print(f"{phase.name}: {len(sent)} interactions in {phase.wall:.2f} s (until all settled)")
    print(f"  {'(ms)':<28} {'n':>5} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9}")
    for kind in (None, *KINDS):
        values = phase.acked(kind)
        print(
            f"  {'acked_after, ' + (kind or 'all'):<28} {len(values):>5} {ms(pct(values, 0.5))} "
            f"{ms(pct(values, 0.9))} {ms(pct(values, 0.99))} "
            f"{ms(max(values, default=float('nan')))}"
        )
    since = phase.from_schedule()
    lags = phase.lags
    for label, values in (("ack since schedule/burst", since), ("event-loop lag (10 ms)", lags)):
        print(
            f"  {label:<28} {len(values):>5} {ms(pct(values, 0.5))} {ms(pct(values, 0.9))} "
            f"{ms(pct(values, 0.99))} {ms(max(values, default=float('nan')))}"
        )
    calls = phase.db_calls
    print(
        f"  {'database calls (queue + trip)':<28} {len(calls):>5} {ms(pct(calls, 0.5))} "
        f"{ms(pct(calls, 0.9))} {ms(pct(calls, 0.99))} {ms(max(calls, default=float('nan')))}"
    )
    full = [seconds for generation, seconds in phase.gc_pauses if generation == 2]
    print(
        f"  garbage collections: {len(phase.gc_pauses)}, longest {phase.longest_gc() * 1e3:.1f} ms;"
        f" full (generation 2): {len(full)}, longest {max(full, default=0) * 1e3:.1f} ms"
    )
    print(
        f"  not acknowledged: {len(lost)} (answered after the 3 s deadline and refused: "
        f"{len(late)}; never answered: {len(lost) - len(late)}); acknowledged after 1 s: "
        f"{len(over_1s)}; deferred: {len(deferred)}"
    )
    print(
        f"  CPU of this process (bot + emulator): {phase.cpu:.2f} s in {phase.wall:.2f} s "
        f"({phase.cpu / phase.wall:.0%} of one core)"
    )
    label, limit = target
    acked = phase.acked()
    value = max(acked, default=float("inf")) if label == "max" else pct(acked, 0.99)
    verdict = "met" if value < limit and not lost else "MISSED"
    print(
        f"  target {label} < {limit * 1e3:.0f} ms, all acknowledged: {value * 1e3:.1f} ms, {verdict}"
    )


def summary(runs: list[Run]) -> None:
    print("Side by side (ms):")
    print(f"  {'figure':<42}" + "".join(f" {r.name:>20}" for r in runs))
    rows: list[tuple[str, Callable[[Run], float]]] = [
        ("burst: acked_after p50", lambda r: pct(r.burst.acked(), 0.5)),
        ("burst: acked_after p99", lambda r: pct(r.burst.acked(), 0.99)),
        ("burst: acked_after max (target < 1000)", lambda r: max(r.burst.acked(), default=0)),
        ("burst: last ack after the burst started", lambda r: max(r.burst.from_schedule())),
        ("burst: event-loop lag max", lambda r: max(r.burst.lags, default=0)),
        ("burst: longest GC pause", lambda r: r.burst.longest_gc()),
        ("burst: database call p50 (queue + trip)", lambda r: pct(r.burst.db_calls, 0.5)),
        ("sustained: acked_after p50", lambda r: pct(r.sustained.acked(), 0.5)),
        ("sustained: acked_after p99 (target < 100)", lambda r: pct(r.sustained.acked(), 0.99)),
        ("sustained: acked_after max", lambda r: max(r.sustained.acked(), default=0)),
        ("sustained: ack since schedule p99", lambda r: pct(r.sustained.from_schedule(), 0.99)),
        ("sustained: event-loop lag p99", lambda r: pct(r.sustained.lags, 0.99)),
        ("sustained: event-loop lag max", lambda r: max(r.sustained.lags, default=0)),
        ("sustained: longest GC pause", lambda r: r.sustained.longest_gc()),
        ("sustained: database call p99", lambda r: pct(r.sustained.db_calls, 0.99)),
    ]
    for label, fn in rows:
        print(f"  {label:<42}" + "".join(f" {ms(fn(r)):>20}" for r in runs))
    print(
        f"  {'sustained: CPU, % of one core':<42}"
        + "".join(f" {r.sustained.cpu / r.sustained.wall:>20.0%}" for r in runs)
    )
    print(
        f"  {'burst: not acknowledged (count)':<42}"
        + "".join(f" {len(r.burst.lost()):>20}" for r in runs)
    )
    print(
        f"  {'sustained: not acknowledged (count)':<42}"
        + "".join(f" {len(r.sustained.lost()):>20}" for r in runs)
    )
    if len(runs) == 2:
        a, b = runs
        print(
            f"  ratio {a.name} / {b.name}: burst max "
            f"{max(a.burst.acked(), default=0) / max(max(b.burst.acked(), default=0), 1e-9):.1f}x, "
            f"sustained p99 {pct(a.sustained.acked(), 0.99) / pct(b.sustained.acked(), 0.99):.1f}x, "
            f"sustained CPU {a.sustained.cpu / max(b.sustained.cpu, 1e-9):.1f}x"
        )


def report_profile(profile: cProfile.Profile, top: int) -> None:
    stats = pstats.Stats(profile)
    groups: defaultdict[str, float] = defaultdict(float)
    root = str(Path(__file__).resolve().parents[1])
    ours = tuple(f"{root}/{d}/" for d in ("bot", "cogs", "storage"))
    rows = []
    for (filename, line, function), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename.startswith(root + "/tests/fakes"):
            group = "emulator (tests/fakes)"
        elif any(p in filename for p in ("/jsonschema", "/referencing", "/rpds", "/attr")) or (
            "attrs generated" in filename
        ):
            group = "emulator: OpenAPI validation (jsonschema)"
        elif filename.startswith(ours):
            group = "bot code (bot/, cogs/, storage/)"
        elif "/site-packages/discord/" in filename:
            group = "discord.py"
        elif any(p in filename for p in ("/aiohttp/", "/yarl/", "/multidict/", "/propcache/")):
            group = "aiohttp (bot's client and emulator's server)"
        elif "selectors.py" in filename or "select.epoll" in function:
            group = "idle (epoll wait)"
        elif "/asyncio/" in filename:
            group = "asyncio"
        elif "/json/" in filename or "zlib" in function or "compress" in function:
            group = "json / zlib"
        elif filename.endswith("/copy.py"):
            group = "copy.deepcopy (the emulator's records)"
        elif filename == "~":
            group = "C built-ins (any caller)"
        else:
            group = "other"
        groups[group] += tottime
        rows.append((tottime, cumtime, f"{Path(filename).name}:{line}({function})"))
    total = sum(groups.values())
    print("cProfile of the sustained phase (main thread), own time by component:")
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<46} {seconds:8.2f} s {seconds / total:6.1%}")
    print(f"top {top} functions by own time:")
    for tottime, cumtime, where in sorted(rows, reverse=True)[:top]:
        print(f"  {tottime:7.3f} s own {cumtime:7.3f} s cum  {where}")


async def main(args: argparse.Namespace) -> None:
    print(
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), "
        f"Python {sys.version.split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.loras:,} LoRAs, {len(LINKED)} linked "
        f"wallets, {len(GALLERY_OWNERS)} gallery messages"
        + ("; emulator records kept" if args.keep_records else "")
        + ("; gc.freeze() once ready" if args.gc_freeze else "")
        + (
            f"; switch interval {args.switch_interval:g} ms"
            if args.switch_interval is not None
            else ""
        ),
        flush=True,
    )
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval / 1000)
    logs = LogCounter()
    logging.getLogger().addHandler(logs)  # also keeps logging's last-resort printer quiet
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.validation]
    runs = [await one_run(args, validating) for validating in modes]
    for run in runs:
        print()
        report_phase(run.burst, ("max", TARGET_BURST_MAX))
        spread = max(s.dispatched_at for s in run.burst.sent) - min(
            s.dispatched_at for s in run.burst.sent
        )
        print(f"  the {args.burst} dispatches themselves took {spread * 1e3:.0f} ms")
        print()
        report_phase(run.sustained, ("p99", TARGET_SUSTAINED_P99))
        behind = [s.dispatched_at - s.scheduled for s in run.sustained.sent]
        print(
            f"  dispatcher behind schedule: p99 {pct(behind, 0.99) * 1e3:.1f} ms, "
            f"max {max(behind) * 1e3:.1f} ms"
        )
        for note in run.notes:
            print(f"  {note}")
    print()
    summary(runs)
    print()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"Peak memory of this process (bot + emulator, whole run): {peak / 1024:.0f} MiB")
    print(f"The bot's warnings and errors: {sum(logs.counts.values())}")
    for line, count in logs.counts.most_common(6):
        print(f"  {count:>5} × {line}")
    for run in runs:
        if run.profile is not None:
            print()
            print(f"[{run.name}]")
            report_profile(run.profile, args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=500, help="interactions in the burst")
    parser.add_argument("--rate", type=int, default=100, help="sustained interactions a second")
    parser.add_argument("--seconds", type=float, default=30, help="length of the sustained phase")
    parser.add_argument("--loras", type=int, default=1000, help="completed LoRAs in the gallery")
    parser.add_argument(
        "--validation",
        choices=("on", "off", "both"),
        default="both",
        help="the emulator's OpenAPI check of request bodies: as is, skipped, or both in turn",
    )
    parser.add_argument(
        "--keep-records", action="store_true", help="keep the emulator's records of everything"
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="what-if: gc.freeze() once the bot is ready (full collections skip start-up)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        metavar="MS",
        help="what-if: sys.setswitchinterval (Python's default is 5 ms)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the sustained phases")
    parser.add_argument("--top", type=int, default=25, help="functions listed with --profile")
    asyncio.run(main(parser.parse_args()))
