"""The pages' per-address sliding window: counts, forgets, and stays small."""

from __future__ import annotations

from bot.web.ratelimit import SlidingWindowLimiter


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_limit_requests_per_window() -> None:
    ticks = Ticks()
    limiter = SlidingWindowLimiter(3, 60, clock=ticks)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60
    assert limiter.hit("b") is None  # others are not affected
    ticks.now += 20
    assert limiter.hit("a") == 40  # refused requests do not extend the wait
    ticks.now += 40  # the first three left the window
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") is not None


def test_the_window_slides() -> None:
    ticks = Ticks()
    limiter = SlidingWindowLimiter(2, 60, clock=ticks)
    assert limiter.hit("a") is None
    ticks.now += 30
    assert limiter.hit("a") is None
    ticks.now += 30.5  # only the first one left
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 29.5


def test_memory_is_bounded_by_forgetting_the_quietest_clients() -> None:
    ticks = Ticks()
    limiter = SlidingWindowLimiter(1, 60, clock=ticks, max_clients=100)
    assert limiter.hit("first") is None
    for n in range(1000):
        ticks.now += 0.001
        limiter.hit(f"client-{n}")
    assert len(limiter) == 100
    assert limiter.hit("client-999") is not None  # a recent one is still counted
    assert limiter.hit("first") is None  # the oldest was forgotten
