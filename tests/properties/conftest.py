"""Hypothesis budgets for the property tests: modest, so the folder runs in seconds.
`HYPOTHESIS_PROFILE=thorough` runs each property ten times longer."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The end-to-end fixtures, for the forged-button cases run against the Discord emulator.
from tests.e2e.conftest import emulator, harness, restore_discord_endpoints  # noqa: F401

settings.register_profile(
    "properties",
    max_examples=200,
    deadline=None,
    # Async properties share one database per test (read-only checks, or rows made per
    # example with fresh ids), which is what this health check warns about.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("properties"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "properties"))
