"""Acknowledgement latency under load, measured fairly: the bot in processes of its own,
the Discord emulator in this one, and a bare discord.py bot as the baseline in the same run.

    .venv/bin/python bench/load.py [--quick] [--reps 2] [--burst 500] [--rate 100]
                                   [--seconds 30] [--loras 1000] [--no-shards]
                                   [--code DIR] [--baseline-code DIR]

Subjects, each started fresh for every repetition, the order alternating between
repetitions (bare bot first, then ours; then ours first…) so neither always runs on a
warmer or busier machine:

- **bare**: `bench/bare_bot.py`, discord.py 2.7 with one slash command that answers one
  ephemeral message;
- **bot**: the real bot (`python -m bot`, every cog, an embedded database holding
  `--loras` completed LoRAs and 12 linked wallets), from `--code` (default: this
  checkout). `--baseline-code DIR` adds a third subject, **before**: the bot from another
  checkout (e.g. `git worktree add /tmp/before HEAD~5`), measured in the same run.

Phases, for each subject (the bare bot answers `/help` wherever the bot gets a mix):
(a) a burst of `--burst` mixed interactions (`/help`, Next/Previous on 20 `/loras`
    messages, `/lora` autocomplete, `/wallet status`), all dispatched at once;
(b) a burst of `--burst` `/help`;
(c) `--rate` interactions a second for `--seconds` seconds (the mix), on a schedule.
Reported: `acked_after`, the emulator's time from an interaction's dispatch to its
accepted acknowledgement (p50/p99/max), the ratio bot / bare, interactions lost or late,
and how many TCP connections the subject opened to the emulator during (a).

Then (unless `--no-shards`) two shards over one database: the same burst spread over a
guild on each shard (`/help`, autocomplete, `/wallet status`), served once by one process
holding both shards and once by two processes (`SHARD_IDS=0` and `1`); reported: p99 and
throughput (interactions acknowledged a second over the burst) and their ratios.

`--quick`: 1 repetition, 8 s sustained, no `before`: about 2 minutes. The full run takes
about 8. The emulator validates every request against Discord's OpenAPI spec, as in the
tests; its listen backlog is raised to 4096 (aiohttp's 128 overflows under a burst and
each refused client waits 1 s before retrying). `bench/load_inprocess.py` is the older
benchmark that runs the emulator on the bot's own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from load_inprocess import (
    GALLERY_OWNERS,
    LINKED,
    USERS,
    Sent,
    emulator_validation,
    harvest,
    pct,
    trigger_word,
)

from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from tests.e2e.test_process import free_port, wait_healthy
from tests.fakes.discord import DiscordEmulator, EmulatedInteraction, GuildSetup
from tests.fakes.discord.driver import CHANNEL_GUILD, dispatch_interaction, locate
from tests.fakes.discord.interactions import AUTOCOMPLETE, command_data
from tests.support.acks import DEFERRED_MESSAGE, DEFERRED_UPDATE, answer_now
from tests.support.bot_process import bot_env
from tests.support.gallery_rows import insert_loras, link_wallet, lora_row

ROOT = Path(__file__).resolve().parents[1]
BARE = ROOT / "bench" / "bare_bot.py"
GUILD_A, CHANNEL_A = 1, 7  # shard 0 of 2
GUILD_B, CHANNEL_B = 1 << 22, 9  # shard 1 of 2: (id >> 22) % 2
MIX = ("help", "page click", "autocomplete", "wallet status")
SHARD_MIX = ("help", "autocomplete", "wallet status")
WALLETS = [f"0x{n:040x}" for n in range(1, 6)]
SETTLE_GRACE = 6.0


# --------------------------------------------------------------- connections opened
class ConnectionCounter:
    """Counts TCP connections the emulator's server accepts (this process hosts only
    the emulator's aiohttp server)."""

    def __init__(self) -> None:
        self.opened = 0
        original = web.RequestHandler.connection_made
        counter = self

        def connection_made(handler: Any, transport: Any) -> None:
            counter.opened += 1
            original(handler, transport)

        web.RequestHandler.connection_made = connection_made  # type: ignore[method-assign]


CONNECTIONS = ConnectionCounter()


# ------------------------------------------------------------------------ subjects
@dataclass(frozen=True)
class Subject:
    name: str
    code: Path | None  # None: the bare bot
    shard_ids: tuple[int, ...] | None = None  # per process; None: one process, all shards


def emulator(shards: int) -> DiscordEmulator:
    guilds = [GuildSetup(id=GUILD_A, channels={CHANNEL_A: "general"}, members=USERS)]
    if shards > 1:
        guilds.append(GuildSetup(id=GUILD_B, channels={CHANNEL_B: "lobby"}, members=USERS))
    return DiscordEmulator(guilds=guilds, shard_count=shards, backlog=4096)


async def seed(path: Path, loras: int) -> None:
    db = Database(DatabaseConfig(url=f"file:{path}"), call_timeout=300)
    await db.open()
    try:
        await migrate(db)
        rows = [
            lora_row(minutes=n, trigger_word=trigger_word(n), wallet=WALLETS[n % 5])
            for n in range(loras)
        ]
        await insert_loras(db, rows)
        for n, user in enumerate(LINKED):
            await link_wallet(db, user, WALLETS[n % len(WALLETS)])
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def running(
    emu: DiscordEmulator, subject: Subject, folder: Path, database: Path, shards: int
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    processes: list[asyncio.subprocess.Process] = []
    plans: list[dict[str, str]] = []
    if subject.code is not None and shards > 1:
        ids = subject.shard_ids
        plans = (
            [{"SHARD_COUNT": str(shards)}]
            if ids is None
            else [{"SHARD_COUNT": str(shards), "SHARD_IDS": str(i)} for i in ids]
        )
    else:
        plans = [{}]
    ports: list[int] = []
    try:
        for extra in plans:
            port = free_port()
            env = bot_env(emu, folder, database, LOG_LEVEL="WARNING", HTTP_PORT=str(port), **extra)
            if subject.code is None:
                argv = [sys.executable, str(BARE)]
            else:
                env["PYTHONPATH"] = str(subject.code)
                argv = [sys.executable, "-m", "bot"]
            processes.append(
                await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=folder,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=open(folder / f"{subject.name}-{len(processes)}.log", "wb"),  # noqa: SIM115
                )
            )
            ports.append(port)
        if subject.code is not None:
            for port, process in zip(ports, processes, strict=True):
                await wait_healthy(port, process)
        await emu.wait_for_ready(timeout=60)
        await commands_synced(emu)
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def commands_synced(emu: DiscordEmulator) -> None:
    for _ in range(600):
        try:
            emu.registry.find("help", guild_id=GUILD_A)
            return
        except LookupError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the bot never synced its commands")


# ------------------------------------------------------------------------ the load
class Load:
    def __init__(self, emu: DiscordEmulator, bare: bool, loras: int) -> None:
        self.emu, self.bare, self.loras = emu, bare, loras
        self.galleries: list[tuple[int, int]] = []
        self.rng = random.Random(1)
        self.count = 0

    async def open_galleries(self) -> None:
        for owner in GALLERY_OWNERS:
            ix = await self.emu.run_command("loras", user_id=owner, channel_id=CHANNEL_A)
            self.galleries.append((int((await ix.original(timeout=30))["id"]), owner))

    async def fire(self, kind: str, channel_id: int = CHANNEL_A) -> EmulatedInteraction:
        emu, rng = self.emu, self.rng
        self.count += 1
        user = USERS[self.count % len(USERS)]
        if self.bare or kind == "help":
            return await emu.run_command("help", user_id=user, channel_id=channel_id)
        if kind == "wallet status":
            user = LINKED[self.count % len(LINKED)]
            return await emu.run_command("wallet status", user_id=user, channel_id=channel_id)
        if kind == "autocomplete":
            n = rng.randrange(self.loras)
            value = trigger_word(n)[: rng.randint(1, 6)] if rng.random() < 0.5 else str(n)
            channel = locate(emu.world, user, channel_id, CHANNEL_GUILD)
            command = emu.registry.find("lora", guild_id=channel.guild_id)
            data = command_data(emu.world, channel, command, [], {"lora": value}, focused="lora")
            return await dispatch_interaction(emu, AUTOCOMPLETE, user, channel, data)
        message_id, owner = rng.choice(self.galleries)
        clicker = owner if rng.random() < 0.5 else user
        stored = emu.world.messages[message_id]
        enabled = [
            c["custom_id"]
            for row in stored.get("components", [])
            for c in _walk(row)
            if c.get("custom_id") and not c.get("disabled") and c.get("label") in NAV
        ]
        if not enabled:  # the gallery has one page only
            return await emu.run_command("help", user_id=user, channel_id=channel_id)
        return await emu.click(message_id, rng.choice(enabled), user_id=clicker)

    async def burst(self, kinds: Sequence[str], channels: Sequence[int]) -> list[Sent]:
        started = time.monotonic()
        fired = await asyncio.gather(
            *(self.fire(k, channels[n % len(channels)]) for n, k in enumerate(kinds))
        )
        return [Sent(k, started, ix) for k, ix in zip(kinds, fired, strict=True)]

    async def sustained(self, rate: int, seconds: float) -> list[Sent]:
        out: list[Sent] = []
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            due = start + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = MIX[n % len(MIX)]
            out.append(Sent(kind, due, await self.fire(kind)))
            if n % rate == rate - 1:
                harvest(out)
        return out


NAV = ("Next ›", "‹ Previous", "Next", "Previous", "›", "‹")


def _walk(component: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component inside a row or a Components V2 container."""
    found = [component]
    for key in ("components", "accessory"):
        inner = component.get(key)
        for child in inner if isinstance(inner, list) else [inner] if inner else []:
            found += _walk(child)
    return found


def is_answered(ix: EmulatedInteraction) -> bool:
    """A direct callback is its own answer; a deferral once it is filled in (a gallery
    message clicked twice counts each click answered at its next edit)."""
    if ix.callback_type is None:
        return False
    return ix.callback_type not in (DEFERRED_MESSAGE, DEFERRED_UPDATE) or answer_now(ix) is not None


async def answered(emu: DiscordEmulator, fired: list[EmulatedInteraction | None]) -> list[float]:
    """Seconds from each interaction's dispatch to its answer (looked at every 20 ms),
    for those answered within 30 s."""
    waiting = [ix for ix in fired if ix is not None]
    after: list[float] = []
    deadline = time.monotonic() + 30
    while waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        now, left = emu.clock.monotonic(), []
        for ix in waiting:
            if is_answered(ix):
                after.append(now - ix.dispatched_at)
            elif not ix.rejected and not ix.expired:
                left.append(ix)
        waiting = left
    return after


async def settled(sent: list[Sent]) -> list[Sent]:
    deadline = time.monotonic() + 30
    while harvest(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return sent


# ------------------------------------------------------------------------ results
@dataclass
class Figures:
    acked: list[float] = field(default_factory=list)
    lost: int = 0
    late: int = 0
    walls: list[float] = field(default_factory=list)  # burst: first dispatch → last ack
    connections: list[int] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # dispatch → answer, seconds
    answer_walls: list[float] = field(default_factory=list)  # burst: first dispatch → last answer
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by side, over the bursts
    by_kind: dict[str, list[float]] = field(default_factory=dict)

    def add(self, sent: list[Sent]) -> None:
        acked = [s for s in sent if s.acked_after is not None and not s.late]
        self.acked += [s.acked_after for s in acked if s.acked_after is not None]
        for s in acked:
            self.by_kind.setdefault(s.kind, []).append(s.acked_after or 0.0)
        self.lost += sum(s.acked_after is None for s in sent)
        self.late += sum(s.late for s in sent)
        if acked:
            first = min(s.dispatched_at for s in sent if s.dispatched_at)
            last = max(s.dispatched_at + (s.acked_after or 0) for s in acked)
            self.walls.append(last - first)

    def line(self) -> str:
        a = self.acked
        if not a:
            return "nothing acknowledged"
        return (
            f"p50 {pct(a, 0.5) * 1e3:7.1f}  p99 {pct(a, 0.99) * 1e3:7.1f}  "
            f"max {max(a) * 1e3:7.1f} ms  n={len(a)} lost={self.lost} late={self.late}"
        )

    def throughput(self, count: int) -> float:
        return count / statistics.median(self.walls) if self.walls else float("nan")


Results = dict[tuple[str, str], Figures]


def answer_rate(figures: Figures, count: int) -> float:
    walls = [w for w in figures.answer_walls if w == w]
    return count / statistics.median(walls) if walls else float("nan")


@contextlib.contextmanager
def no_collector_pauses() -> Iterator[None]:
    """The measuring side (emulator and load) must not stall: its records grow with
    every request, and a full collection of them took up to 160 ms in a phase, which
    showed as the subject's latency. Collected before and after each phase instead."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


async def one_subject(
    subject: Subject, args: argparse.Namespace, folder: Path, results: Results
) -> None:
    bare = subject.code is None
    database = folder / f"{subject.name}.db"
    for stale in folder.glob(f"{subject.name}.db*"):  # each repetition starts afresh
        stale.unlink()
    if not bare:
        await seed(database, args.loras)
    emu = emulator(1)
    await emu.start()
    try:
        async with running(emu, subject, folder, database, 1):
            load = Load(emu, bare, args.loras)
            if not bare:
                await load.open_galleries()
            for n in range(40):  # warm-up
                await settled([Sent(MIX[n % 4], time.monotonic(), await load.fire(MIX[n % 4]))])
            # Each phase starts once the previous one is answered, not only acknowledged,
            # and with no collector pause of this process inside it.
            with no_collector_pauses():
                before = CONNECTIONS.opened
                sent = await load.burst([MIX[n % 4] for n in range(args.burst)], [CHANNEL_A])
                answers = asyncio.create_task(answered(emu, [s.ix for s in sent]))
                mixed = await settled(sent)
                a = results.setdefault((subject.name, "a"), Figures())
                a.add(mixed)
                a.connections.append(CONNECTIONS.opened - before)
                a.answered += await answers
            await asyncio.sleep(1.0)
            with no_collector_pauses():
                sent = await load.burst(["help"] * args.burst, [CHANNEL_A])
                answers = asyncio.create_task(answered(emu, [s.ix for s in sent]))
                helps = await settled(sent)
                b = results.setdefault((subject.name, "b"), Figures())
                b.add(helps)
                b.answered += await answers
            await asyncio.sleep(1.0)
            with no_collector_pauses():
                steady = await settled(await load.sustained(args.rate, args.seconds))
                results.setdefault((subject.name, "c"), Figures()).add(steady)
            print(f"  {subject.name}: (a) {results[(subject.name, 'a')].line()}", flush=True)
    finally:
        await emu.stop()


async def sharded(
    subject: Subject, args: argparse.Namespace, folder: Path, results: Results
) -> None:
    database = folder / f"{subject.name}.db"
    await seed(database, args.loras)
    emu = emulator(2)
    await emu.start()
    try:
        async with running(emu, subject, folder, database, 2) as processes:
            load = Load(emu, False, args.loras)
            for n in range(40):
                await settled(
                    [
                        Sent(
                            "help",
                            time.monotonic(),
                            await load.fire(SHARD_MIX[n % 3], (CHANNEL_A, CHANNEL_B)[n % 2]),
                        )
                    ]
                )
            kinds = [SHARD_MIX[n % 3] for n in range(args.burst)]
            figures = results.setdefault((subject.name, "s"), Figures())
            for _ in range(2):
                with no_collector_pauses():
                    used = cpu_seconds(processes)
                    sent = await load.burst(kinds, (CHANNEL_A, CHANNEL_B))
                    answers = asyncio.create_task(answered(emu, [s.ix for s in sent]))
                    figures.add(await settled(sent))
                    got = await answers
                    figures.answered += got
                    figures.answer_walls.append(max(got) if got else float("nan"))
                    for side, seconds in cpu_seconds(processes).items():
                        figures.cpu[side] = figures.cpu.get(side, 0.0) + seconds - used[side]
                await asyncio.sleep(1.0)
            print(f"  {subject.name}: {results[(subject.name, 's')].line()}", flush=True)
    finally:
        await emu.stop()


def cpu_seconds(processes: list[asyncio.subprocess.Process]) -> dict[str, float]:
    """CPU time so far of the bots (with their database workers) and of this process
    (the emulator and the load): what each side spent is the difference of two reads."""
    bots = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for process in processes:
        pids = [process.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                bots += (int(fields[11]) + int(fields[12])) / tick
    own = os.times()
    return {"bots": bots, "emulator": own.user + own.system}


def report(args: argparse.Namespace, results: Results, subjects: list[Subject]) -> None:
    phases = {
        "a": f"(a) burst of {args.burst} mixed",
        "b": f"(b) burst of {args.burst} /help",
        "c": f"(c) sustained {args.rate}/s for {args.seconds:g} s",
    }
    print()
    print(f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    for key, title in phases.items():
        print(title)
        bare = results.get(("bare", key))
        for subject in subjects:
            figures = results.get((subject.name, key))
            if figures is None:
                continue
            ratio = ""
            if bare is not None and subject.name != "bare" and figures.acked and bare.acked:
                ratio = (
                    f"  ratio p50 {pct(figures.acked, 0.5) / pct(bare.acked, 0.5):.2f}x"
                    f" p99 {pct(figures.acked, 0.99) / pct(bare.acked, 0.99):.2f}x"
                    f" max {max(figures.acked) / max(bare.acked):.2f}x"
                )
            print(f"  {subject.name:<8} {figures.line()}{ratio}")
            if figures.answered:
                got = figures.answered
                print(
                    f"  {'':<8} answered: p50 {pct(got, 0.5) * 1e3:.0f}  p99"
                    f" {pct(got, 0.99) * 1e3:.0f}  last {max(got) * 1e3:.0f} ms, n={len(got)}"
                )
            if key == "a":
                print(f"  {'':<8} TCP connections opened during the burst: {figures.connections}")
                if subject.name != "bare":
                    kinds = ", ".join(
                        f"{kind} {pct(v, 0.5) * 1e3:.0f}/{pct(v, 0.99) * 1e3:.0f}"
                        for kind, v in sorted(figures.by_kind.items())
                    )
                    print(f"  {'':<8} by kind, p50/p99 ms: {kinds}")
    one, two = results.get(("1 process", "s")), results.get(("2 processes", "s"))
    if one is not None and two is not None:
        print(f"(s) two shards, burst of {args.burst} over both guilds (2 bursts each)")
        for name, figures in (("1 process", one), ("2 processes", two)):
            print(
                f"  {name:<12} {figures.line()}  throughput {figures.throughput(args.burst):.0f}/s"
            )
            cpu = {k: v * 1e3 / (2 * args.burst) for k, v in figures.cpu.items()}
            print(
                f"  {'':<12} answered p99 {pct(figures.answered, 0.99) * 1e3:.0f} ms, all"
                f" answered at {statistics.median(figures.answer_walls) * 1e3:.0f} ms:"
                f" {answer_rate(figures, args.burst):.0f}/s; CPU per interaction: bots"
                f" {cpu.get('bots', 0):.2f} ms, emulator and load {cpu.get('emulator', 0):.2f} ms"
            )
        print(
            f"  2 / 1 processes: throughput {two.throughput(args.burst) / one.throughput(args.burst):.2f}x"
            f" acknowledged, {answer_rate(two, args.burst) / answer_rate(one, args.burst):.2f}x"
            f" answered; p99 {pct(two.acked, 0.99) / pct(one.acked, 0.99):.2f}x"
        )
        # What the cores allow, from CPU b (the bot) and e (emulator and load) per
        # interaction: one bot process uses at most one core, the emulator one, so one
        # process serves at most 1 / max(b, e) a second; two bot processes at most
        # min(1 / e, cores / (b + e)).
        b, e = one.cpu.get("bots", 0.0), one.cpu.get("emulator", 0.0)
        cores = len(os.sched_getaffinity(0))
        if b > 0 and e > 0:
            ceiling = min(1 / e, cores / (b + e)) * max(b, e)
            print(f"  ceiling on these {cores} cores with this emulator: {ceiling:.2f}x")


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="load-bench-"))
    code = Path(args.code).resolve()
    subjects = [Subject("bare", None), Subject("bot", code)]
    if args.only:
        subjects = [s for s in subjects if s.name in args.only.split(",")]
    if args.baseline_code:
        subjects.append(Subject("before", Path(args.baseline_code).resolve()))
    results: Results = {}
    try:
        for rep in range(args.reps):
            order = subjects if rep % 2 == 0 else subjects[::-1]
            print(f"repetition {rep + 1}: {' → '.join(s.name for s in order)}", flush=True)
            for subject in order:
                await one_subject(subject, args, folder, results)
        if not args.no_shards:
            print("two shards:", flush=True)
            await sharded(Subject("1 process", code), args, folder, results)
            await sharded(Subject("2 processes", code, (0, 1)), args, folder, results)
        report(args, results, subjects)
    finally:
        if args.keep:
            print(f"logs and databases kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repetition, 8 s sustained")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--loras", type=int, default=1000)
    parser.add_argument("--no-shards", action="store_true")
    parser.add_argument(
        "--validation",
        choices=("on", "off"),
        default="on",
        help="the emulator's OpenAPI check of request bodies (off: the emulator's CPU is"
        " mostly gone from the measure)",
    )
    parser.add_argument("--only", help="subjects to run, e.g. bot or bare,bot")
    parser.add_argument("--keep", action="store_true", help="keep the bots' logs")
    parser.add_argument("--code", default=str(ROOT), help="checkout whose bot is measured")
    parser.add_argument("--baseline-code", help="another checkout, measured as 'before'")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.reps = 1
        parsed.seconds = min(parsed.seconds, 8.0)
    with emulator_validation(parsed.validation == "on"):
        asyncio.run(main(parsed))
