"""Which of the bot's files one request runs through, and how many database round trips
it makes: `/generate` (from the command to the images in the thread) and a `/loras`
Next click (from the click to the edited page).

    .venv/bin/python -m bench.request_trace

The real bot against the Discord emulator and a fake fal, on an embedded database.
A round trip is one call into the database process (`Database.run`: every fetch,
execute and transaction goes through it). Files are the bot's own source files
(bot/, cogs/, storage/) with a Python function called while the request ran, in the
bot's process (the database process runs storage code too; it is not counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import BotHarness  # noqa: E402
from tests.fakes.discord import DiscordEmulator  # noqa: E402
from tests.fakes.fal import FakeFal  # noqa: E402

try:
    from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row
except ImportError:  # the layout before tests/support/
    from tests.support.gallery_rows import (  # type: ignore[no-redef]
        WALLET_A,
        insert_loras,
        link_wallet,
        lora_row,
    )

ALICE, CHANNEL = 42, 7
SOURCE_DIRS = tuple(str(ROOT / d) + "/" for d in ("bot", "cogs", "storage"))


class Trace:
    def __init__(self, db: Any) -> None:
        self.files: set[str] = set()
        self.round_trips = 0
        self._recording = False
        run = db.run

        async def counted(*args: Any, **kwargs: Any) -> Any:
            if self._recording:
                self.round_trips += 1
            return await run(*args, **kwargs)

        db.run = counted

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(SOURCE_DIRS):
                self.files.add(str(Path(name).relative_to(ROOT)))

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        self.files.clear()
        self.round_trips = 0
        self._recording = True
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(None)
            self._recording = False


async def measure(trace: Trace, work: Callable[[], Awaitable[None]]) -> tuple[int, list[str]]:
    with trace.recording():
        await work()
    return trace.round_trips, sorted(trace.files)


async def main() -> None:
    emulator = DiscordEmulator()
    await emulator.start()
    fal = await FakeFal().start()
    folder = Path(tempfile.mkdtemp(prefix="request-trace-"))
    try:
        async with BotHarness(emulator, folder).running(
            fal_key="fake-key:not-a-real-secret",
            fal_queue_url=fal.base_url,
            media_hosts="127.0.0.1",
        ) as bot:
            generator = getattr(bot, "services", bot).generator
            generator.fal.poll_interval = 0.01
            trace = Trace(bot.db)
            await link_wallet(bot.db, ALICE, WALLET_A)
            rows = [lora_row(minutes=i, trigger_word=f"style{i}") for i in range(7)]
            await insert_loras(bot.db, rows)

            async def generate(lora: str) -> None:
                ix = await emulator.run_command(
                    "generate",
                    user_id=ALICE,
                    channel_id=CHANNEL,
                    options={"lora": lora, "prompt": "a lighthouse at dusk"},
                )
                await ix.response()
                await emulator.wait_until(
                    lambda: any(
                        m.get("attachments")
                        for m in emulator.channel_messages(ix.original_message_id)
                    ),
                    what="the images in the thread",
                    timeout=15,
                )
                # The last edit ("Done: …") follows the thread post.
                await asyncio.sleep(0.2)

            gallery = await (
                await emulator.run_command("loras", user_id=ALICE, channel_id=CHANNEL)
            ).original()
            next_id = next(
                c["custom_id"]
                for row in gallery["components"]
                for c in row["components"]
                if c.get("label") == "Next ›"
            )

            async def next_click() -> None:
                click = await emulator.click(gallery, next_id, user_id=ALICE)
                await click.response()

            requests: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("/generate (LoRA picked from the list: its id)", lambda: generate(rows[0]["id"])),
                ("/generate (LoRA typed: its trigger word)", lambda: generate("style1")),
                ("/loras Next", next_click),
            ]
            for name, work in requests:
                trips, files = await measure(trace, work)
                print(f"{name}: {trips} database round trips, {len(files)} files")
                for file in files:
                    print(f"    {file}")
    finally:
        await fal.stop()
        await emulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
