"""The environment of the real bot run as a subprocess against the test's fakes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.conftest import FAKE_TOKEN
from tests.e2e.test_process import free_port
from tests.fakes.discord import DiscordEmulator


def bot_env(
    emulator: DiscordEmulator, home: Path, database: Path, **settings: str
) -> dict[str, str]:
    """Only what the bot needs (nothing of the machine's .env): Discord is the emulator,
    the database a file, the web server a free port; `settings` add the rest."""
    return {
        "PATH": os.environ.get("PATH", ""),
        # a checkout other than the installed one (a worktree) runs its own code
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
        "HOME": str(home),
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DISCORD_API_BASE_URL": emulator.api_base_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DATABASE_URL": f"file:{database}",
        "HTTP_PORT": str(free_port()),
        **settings,
    }
