"""Screenshots of rendered messages in headless Chromium, at Discord's desktop and
phone widths, written to test-artifacts/screens/.

The browser runs on its own thread and event loop, so one browser serves a whole test
module although every test has its own event loop (pytest-asyncio's default)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, Playwright, Route, async_playwright

from tests.fakes.discord import DiscordEmulator
from tests.support.chromium import CHROMIUM_FLAGS, chromium_path

from .media import LOCAL_HOSTS, Attachments
from .render import render_html

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
SCREENS = ROOT / "test-artifacts" / "screens"
DOCS = ROOT / "docs" / "screenshots"
WIDTHS = {"desktop": 1000, "phone": 390}


def attachments_of(emulator: DiscordEmulator, message: Mapping[str, Any]) -> dict[str, bytes]:
    """The bytes the bot uploaded with `message`, by filename (what `attachment://` names)."""
    return {
        str(a["filename"]): emulator.attachment_bytes(a) for a in message.get("attachments") or []
    }


class Camera:
    def __init__(self, folder: Path = SCREENS) -> None:
        self.folder = folder
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def _run(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    def start(self) -> Camera:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._launch(), self._loop).result(60)
        return self

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _launch(self) -> None:
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS
        )

    async def _shutdown(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()

    async def screenshot(
        self,
        message: Mapping[str, Any],
        name: str,
        *,
        attachments: Attachments | None = None,
        widths: Sequence[str] = ("desktop", "phone"),
        to_docs: Sequence[str] = (),
    ) -> dict[str, tuple[Path, str]]:
        """`<name>-<width>.png` (and .html) for each width, plus `<name>.json`: returns
        {width: (png, html)}. With SCREENS_TO_DOCS=1
        the `to_docs` widths are also copied to docs/screenshots/."""
        shots = {}
        self.folder.mkdir(parents=True, exist_ok=True)
        # The payload beside its pictures, to see what was drawn.
        (self.folder / f"{name}.json").write_text(json.dumps(message, indent=2, default=str))
        for width in widths:
            page = render_html(message, attachments=attachments, layout=width)
            path = self.folder / f"{name}-{width}.png"
            await self._run(self._shoot(page, path, WIDTHS[width]))
            (self.folder / f"{name}-{width}.html").write_text(page)
            shots[width] = (path, page)
            if width in to_docs and os.environ.get("SCREENS_TO_DOCS") == "1":
                DOCS.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, DOCS / path.name)
        return shots

    async def _shoot(self, page_html: str, path: Path, width: int) -> None:
        assert self._browser is not None, "Camera.start() first"
        context = await self._browser.new_context(viewport={"width": width, "height": 200})
        # Offline on purpose: only the test's own servers (and data: URIs) are reachable.
        await context.route("**/*", _local_only)
        try:
            page = await context.new_page()
            await page.set_content(page_html, wait_until="load", timeout=15_000)
            path.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(path), full_page=True)
        finally:
            await context.close()


async def _local_only(route: Route) -> None:
    if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
        await route.continue_()
    else:
        await route.abort()


async def screenshot(
    message: Mapping[str, Any],
    name: str,
    *,
    attachments: Attachments | None = None,
    widths: Sequence[str] = ("desktop", "phone"),
) -> dict[str, tuple[Path, str]]:
    """One-off pictures of `message` with a browser of their own (a module that takes
    several should share a `Camera`, as tests/e2e/test_screens.py does)."""
    camera = Camera()
    await asyncio.to_thread(camera.start)
    try:
        return await camera.screenshot(message, name, attachments=attachments, widths=widths)
    finally:
        await asyncio.to_thread(camera.close)
