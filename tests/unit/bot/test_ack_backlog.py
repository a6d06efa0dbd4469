"""The order of work under a burst: answers wait while any interaction received before
them still waits for its acknowledgement; an interaction nobody answers stops holding
them once Discord has dropped it (`horizon`), and no answer waits past `max_wait`."""

from __future__ import annotations

import asyncio

from bot.ack_backlog import AckBacklog


class Response:
    def __init__(self) -> None:
        self.done = False

    def is_done(self) -> bool:
        return self.done


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_nothing_received_means_no_wait() -> None:
    backlog = AckBacklog()
    await asyncio.wait_for(backlog.settled(), 0.1)
    assert backlog.pending() == 0


async def test_an_answer_waits_for_every_acknowledgement_received_before_it() -> None:
    backlog = AckBacklog(look_every=60)  # released only by `acknowledged()`
    responses = [Response() for _ in range(3)]
    for response in responses:
        backlog.received(response)
    answer = asyncio.create_task(backlog.settled())
    for response in responses[:2]:
        response.done = True
        backlog.acknowledged()
        await asyncio.sleep(0.01)
        assert not answer.done()
    responses[2].done = True
    backlog.acknowledged()
    await asyncio.wait_for(answer, 0.5)
    assert backlog.pending() == 0


async def test_an_acknowledgement_sent_elsewhere_is_seen_by_looking() -> None:
    # A modal or a direct reply acknowledges without `acknowledged()`.
    backlog = AckBacklog(look_every=0.005)
    response = Response()
    backlog.received(response)
    answer = asyncio.create_task(backlog.settled())
    await asyncio.sleep(0.02)
    assert not answer.done()
    response.done = True
    await asyncio.wait_for(answer, 0.5)


async def test_order_of_acknowledgement_does_not_matter() -> None:
    backlog = AckBacklog(look_every=60)
    first, second = Response(), Response()
    backlog.received(first)
    backlog.received(second)
    second.done = True
    backlog.acknowledged()
    assert backlog.pending() == 2  # the oldest still waits: so does every answer
    first.done = True
    backlog.acknowledged()
    assert backlog.pending() == 0


async def test_an_interaction_nobody_answers_stops_holding_answers_at_the_horizon() -> None:
    clock = Clock()
    backlog = AckBacklog(horizon=3.0, max_wait=60, look_every=0.005, clock=clock)
    backlog.received(Response())  # never acknowledged
    clock.now += 1.0
    answer = asyncio.create_task(backlog.settled())
    await asyncio.sleep(0.02)
    assert not answer.done()
    clock.now += 2.5  # 3.5 s old: Discord dropped it
    await asyncio.wait_for(answer, 0.5)
    assert backlog.pending() == 0


async def test_no_answer_waits_past_max_wait() -> None:
    backlog = AckBacklog(horizon=60, max_wait=0.05, look_every=0.005)
    backlog.received(Response())
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(backlog.settled(), 1.0)
    assert asyncio.get_running_loop().time() - started >= 0.04
    assert backlog.pending() == 1


async def test_a_new_interaction_holds_later_answers_again() -> None:
    backlog = AckBacklog(look_every=60)
    first = Response()
    backlog.received(first)
    first.done = True
    backlog.acknowledged()
    await asyncio.wait_for(backlog.settled(), 0.1)
    backlog.received(Response())
    answer = asyncio.create_task(backlog.settled())
    await asyncio.sleep(0.01)
    assert not answer.done()
    answer.cancel()
