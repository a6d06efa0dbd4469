"""Shared fixtures: a fresh database on every backend, and settings that ignore the
machine's .env.

Every test using `db` runs twice: against an embedded file (`embedded`) and against a
local Hrana 3 server over HTTP (`remote`, `tests/fakes/hrana.py`), the way the bot talks
to Turso or sqld. A test that needs a local file (several processes on one path, the
file's own behaviour) says so with `@pytest.mark.embedded_only`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from tests.fakes.hrana import HranaServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BACKENDS = ("embedded", "remote")
HRANA_TOKEN = "test-token-for-the-local-hrana-server"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "embedded_only: run the `db` fixture on the embedded file backend only"
    )
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium (scripts/test installs it); -m browser"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        only_file = metafunc.definition.get_closest_marker("embedded_only") is not None
        backends = ["embedded"] if only_file else list(BACKENDS)
        metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def hrana_server(tmp_path: Path) -> Iterator[HranaServer]:
    """A Hrana 3 server on 127.0.0.1 over a fresh SQLite file, requiring `HRANA_TOKEN`."""
    with HranaServer(tmp_path / "primary.db", auth_token=HRANA_TOKEN) as server:
        yield server


@pytest.fixture
def db_config(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> DatabaseConfig:
    if db_backend == "remote":
        server: HranaServer = request.getfixturevalue("hrana_server")
        return DatabaseConfig(url=server.url, auth_token=HRANA_TOKEN)
    return DatabaseConfig(url=f"file:{tmp_path / 'bot.db'}")


@pytest.fixture
async def db(db_config: DatabaseConfig) -> AsyncIterator[Database]:
    database = Database(db_config)
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()
