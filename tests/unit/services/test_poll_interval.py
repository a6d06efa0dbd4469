"""How often the training watcher polls, with and without fal webhooks."""

from __future__ import annotations

import pytest

from bot.services.training.watcher import WEBHOOK_POLL_CAP, WEBHOOK_POLL_FACTOR, poll_interval


@pytest.mark.parametrize(
    ("poll", "lease", "webhooks", "expected"),
    [
        (10, 90, False, 10),  # no webhooks: TRAINING_POLL_SECONDS as it is
        (10, 900, True, 10 * WEBHOOK_POLL_FACTOR),  # 6x
        (10, 90, True, 45),  # never past half a lease (a poll renews the leases)
        (120, 3600, True, WEBHOOK_POLL_CAP),  # a few minutes at most
        (600, 1200, True, 600),  # never faster than configured
    ],
)
def test_poll_interval(poll: float, lease: float, webhooks: bool, expected: float) -> None:
    assert poll_interval(poll, webhooks=webhooks, lease_seconds=lease) == expected
