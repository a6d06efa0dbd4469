"""Shared fixtures: a fresh embedded database, and settings that ignore the machine's .env."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database, DatabaseConfig
from storage.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=f"file:{tmp_path / 'bot.db'}"))
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()
