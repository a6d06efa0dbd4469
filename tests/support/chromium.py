"""Debian's Chromium for the browser tests and the screenshots, driven by Playwright
(Playwright's own browser download is never used; scripts/test installs chromium)."""

from __future__ import annotations

import shutil

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is needed: scripts/test installs it (apt-get install chromium)"
    return found
