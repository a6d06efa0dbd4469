"""The composition root decides which features are on, from the settings alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.background import Periodic
from bot.errors import NotConfigured
from bot.settings import load_settings
from bot.wiring import Services, build_services
from storage.db import Database


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def built(db: Database, http: aiohttp.ClientSession, **values: Any) -> Services:
    settings = load_settings(_env_file=None, discord_token="x" * 60, **values)
    return await build_services(settings, db, http)


@pytest.mark.embedded_only
async def test_without_settings_every_feature_says_what_is_missing(
    db: Database, http: aiohttp.ClientSession
) -> None:
    services = await built(db, http)
    assert services.watcher is None  # no FAL_KEY: nothing to watch
    with pytest.raises(NotConfigured, match="PUBLIC_BASE_URL or SIWE_DOMAIN"):
        await services.wallet_links.start(1, "ada")
    with pytest.raises(NotConfigured, match="FAL_KEY"):
        services.training._require_fal()
    assert services.training.quoter is None and services.training.verifier is None


@pytest.mark.embedded_only
async def test_a_fal_key_and_a_domain_turn_training_and_linking_on(
    db: Database, http: aiohttp.ClientSession
) -> None:
    services = await built(db, http, fal_key="fake-key:not-a-real-secret", siwe_domain="bot.test")
    assert services.watcher is not None and services.watcher.notifier is None
    challenge = await services.wallet_links.start(1, "ada")
    assert challenge.discord_user_id == 1
    # Paid training still needs the RPC, a treasury and a working price feed.
    assert services.training.quoter is None


async def test_a_periodic_job_survives_its_own_failures() -> None:
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("a poll that fails")

    job = Periodic("flaky", 0.01, work)
    job.start()
    while runs < 3:
        await asyncio.sleep(0.01)
    assert job.running
    await job.stop()
    assert not job.running
