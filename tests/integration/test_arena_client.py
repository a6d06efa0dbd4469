"""ArenaClient against the local fake Are.na v2 server, over real HTTP."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from bot.clients.arena import (
    ArenaChannelNotFound,
    ArenaChannelPrivate,
    ArenaClient,
    ArenaRateLimited,
    ArenaUnavailable,
    ImageCountOutOfRange,
    InvalidChannelRef,
    check_image_count,
    parse_channel_ref,
)
from bot.errors import ServiceUnavailable, UserFacingError
from cogs.common.errors import can_retry, describe
from tests.fakes.arena import FakeArena, Fault

TOKEN = "arena-token-that-must-never-be-logged"


@pytest.fixture
async def arena() -> AsyncIterator[FakeArena]:
    fake = await FakeArena(token=TOKEN).start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def client(
    session: aiohttp.ClientSession, arena: FakeArena, token: str | None = None, **options: float
) -> ArenaClient:
    settings: dict[str, float] = {"timeout": 2, "backoff": 0.01} | options
    return ArenaClient(session, arena.base_url, token, **settings)  # type: ignore[arg-type]


async def test_reads_every_page_and_keeps_only_image_blocks(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    channel = arena.add_channel(
        "analytical-engines",
        title="Analytical *Engines*",
        images=23,
        others={"Text": 4, "Link": 3, "Media": 2, "Attachment": 1, "Channel": 2},
    )
    result = await client(session, arena, per_page=10).fetch_channel("analytical-engines")

    assert result.slug == "analytical-engines"
    assert result.title == "Analytical *Engines*"  # raw user text: the cog escapes it
    assert result.status == "public"
    assert result.length == 35
    assert not result.truncated
    expected_ids = [b["id"] for b in channel.blocks if b["class"] == "Image"]
    assert [image.block_id for image in result.images] == expected_ids
    # Link and Media blocks carry an image too, and are still not training images.
    assert result.skipped == {"Text": 4, "Link": 3, "Media": 2, "Attachment": 1, "Channel": 2}
    pages = [(r.page, r.per) for r in arena.api_requests if r.kind == "contents"]
    assert pages == [(1, 10), (2, 10), (3, 10), (4, 10)]  # 35 blocks: the 4th page is short


async def test_image_urls_come_from_the_blocks(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    channel = arena.add_channel("c", images=5, without_display=2, without_file=1)
    result = await client(session, arena).fetch_channel("c")

    assert len(result.images) == 4
    assert result.skipped == {"Image without a file": 1}
    first, _, third, _ = result.images
    block = channel.blocks[0]
    assert first.block_id == block["id"]
    assert first.title == "photo-1.jpg"
    assert first.original_url == block["image"]["original"]["url"]
    assert first.display_url == first.original_url  # no display nor large: the original
    assert first.thumb_url == block["image"]["thumb"]["url"]
    assert first.original_size == 6413525
    assert first.content_type == "image/jpeg"
    assert third.display_url == channel.blocks[3]["image"]["display"]["url"]
    assert "/display_" in third.display_url


async def test_an_exact_multiple_of_the_page_size_stops_at_the_empty_page(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=20)
    result = await client(session, arena, per_page=10).fetch_channel("c")
    assert len(result.images) == 20
    assert [r.page for r in arena.api_requests if r.kind == "contents"] == [1, 2, 3]


async def test_an_empty_channel(session: aiohttp.ClientSession, arena: FakeArena) -> None:
    arena.add_channel("empty")
    result = await client(session, arena).fetch_channel("empty")
    assert result.images == ()
    assert result.skipped == {}
    with pytest.raises(ImageCountOutOfRange, match="has 0 images; training needs at least 4"):
        check_image_count(len(result.images))


async def test_an_endless_server_is_not_read_forever(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    channel = arena.add_channel("c", images=10)
    arena.endless = True  # every page full, whatever its number
    result = await client(session, arena, per_page=10).fetch_channel("c")
    # length 10 → page 1, plus one page of slack; then it stops and says so.
    assert [r.page for r in arena.api_requests if r.kind == "contents"] == [1, 2]
    assert result.truncated
    assert len(result.images) == 10  # repeated blocks are not counted twice

    arena.api_requests.clear()
    channel.length_override = 10**6  # a channel that claims to be enormous
    result = await client(session, arena, per_page=10, max_pages=7).fetch_channel("c")
    assert len([r for r in arena.api_requests if r.kind == "contents"]) == 7
    assert result.truncated


async def test_a_link_or_slug_from_the_user_reaches_the_api(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("analytical-engines", images=4)
    slug = parse_channel_ref("<https://WWW.are.na/ada/Analytical-Engines/?view=grid>")
    result = await client(session, arena).fetch_channel(slug)
    assert len(result.images) == 4
    with pytest.raises(InvalidChannelRef):
        await client(session, arena).fetch_channel("../v2/users/1")
    assert all(r.slug == "analytical-engines" for r in arena.api_requests)


async def test_unknown_channel(session: aiohttp.ClientSession, arena: FakeArena) -> None:
    with pytest.raises(ArenaChannelNotFound) as caught:
        await client(session, arena).fetch_channel("no-such-channel")
    assert "no-such-channel" in caught.value.message
    assert "Check the link or slug" in caught.value.message
    assert not isinstance(caught.value, ServiceUnavailable)  # no Retry button for this


async def test_private_channel_without_a_token(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("secret", images=5, status="private")
    with pytest.raises(ArenaChannelPrivate) as caught:
        await client(session, arena).fetch_channel("secret")
    assert "private" in caught.value.message
    assert "public or closed" in caught.value.message
    assert "ARENA_ACCESS_TOKEN" in caught.value.message
    assert arena.api_requests[0].authorization is None


async def test_private_channel_with_the_wrong_token(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("secret", images=5, status="private")
    with pytest.raises(ArenaChannelPrivate) as caught:
        await client(session, arena, "someone-elses-token").fetch_channel("secret")
    assert "bot's Are.na account cannot see it" in caught.value.message


async def test_private_channel_with_the_token(
    session: aiohttp.ClientSession, arena: FakeArena, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    arena.add_channel("secret", images=5, status="private")
    arena.faults = [Fault(status=429, retry_after="0"), Fault(status=503)]
    reader = client(session, arena, TOKEN)
    result = await reader.fetch_channel("secret")
    assert result.status == "private"
    assert len(result.images) == 5
    assert {r.authorization for r in arena.api_requests} == {f"Bearer {TOKEN}"}
    # Never in logs (retries included), nor in the client's repr.
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(reader)


async def test_retry_after_is_honoured(session: aiohttp.ClientSession, arena: FakeArena) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=429, retry_after="1", on="contents")]
    started = time.monotonic()
    result = await client(session, arena).fetch_channel("c")
    waited = time.monotonic() - started
    assert len(result.images) == 4
    assert waited >= 1.0
    assert waited < 3.0
    assert [r.kind for r in arena.api_requests] == ["channel", "contents", "contents"]


async def test_retry_after_as_an_http_date(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=4)
    when = datetime.now(UTC) + timedelta(seconds=2)
    # HTTP dates have whole seconds: the wait is between 1 and 2 seconds.
    arena.faults = [Fault(status=429, retry_after=format_datetime(when, usegmt=True))]
    started = time.monotonic()
    await client(session, arena).fetch_channel("c")
    waited = time.monotonic() - started
    assert 1.0 <= waited < 3.0


async def test_rate_limit_that_does_not_end(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=429, retry_after="0.05") for _ in range(10)]
    with pytest.raises(ArenaRateLimited) as caught:
        await client(session, arena, max_retries=2).fetch_channel("c")
    assert (
        caught.value.message
        == "Are.na is rate-limiting us right now. Please try again in a minute."
    )
    assert isinstance(caught.value, ServiceUnavailable)  # the cog offers Retry
    assert len(arena.api_requests) == 3  # the first try and 2 retries


async def test_a_long_retry_after_is_not_waited_out(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=429, retry_after="300")]
    started = time.monotonic()
    with pytest.raises(ArenaRateLimited) as caught:
        await client(session, arena).fetch_channel("c")
    assert time.monotonic() - started < 1
    assert "in about 5 minutes" in caught.value.message
    assert len(arena.api_requests) == 1


async def test_rate_limit_without_retry_after_backs_off(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=429), Fault(status=429)]
    started = time.monotonic()
    await client(session, arena, backoff=0.1).fetch_channel("c")
    assert time.monotonic() - started >= 0.3  # 0.1 then 0.2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 400, 418])
async def test_server_errors(session: aiohttp.ClientSession, arena: FakeArena, status: int) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=status) for _ in range(5)]
    with pytest.raises(ArenaUnavailable) as caught:
        await client(session, arena, max_retries=2).fetch_channel("c")
    assert caught.value.reason == f"HTTP {status}"
    assert caught.value.message == "Are.na isn't answering right now. Please try again in a minute."
    retried = status in (502, 503, 504)
    assert len(arena.api_requests) == (3 if retried else 1)


async def test_a_passing_server_error_is_retried(
    session: aiohttp.ClientSession, arena: FakeArena
) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(status=502, on="contents"), Fault(kind="reset", on="contents")]
    result = await client(session, arena).fetch_channel("c")
    assert len(result.images) == 4


async def test_a_hanging_server_times_out(session: aiohttp.ClientSession, arena: FakeArena) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(kind="hang", on="contents")]
    started = time.monotonic()
    with pytest.raises(ArenaUnavailable) as caught:
        await client(session, arena, timeout=0.3).fetch_channel("c")
    assert 0.3 <= time.monotonic() - started < 2
    assert "no answer" in caught.value.reason


@pytest.mark.parametrize("on", ["channel", "contents"])
async def test_malformed_json(session: aiohttp.ClientSession, arena: FakeArena, on: str) -> None:
    arena.add_channel("c", images=4)
    arena.faults = [Fault(kind="malformed", on=on)]  # type: ignore[arg-type]
    with pytest.raises(ArenaUnavailable) as caught:
        await client(session, arena).fetch_channel("c")
    assert caught.value.reason == "malformed JSON"


async def test_connection_refused(session: aiohttp.ClientSession) -> None:
    reader = ArenaClient(session, "http://127.0.0.1:9", timeout=1, max_retries=1, backoff=0.01)
    with pytest.raises(ArenaUnavailable):
        await reader.fetch_channel("c")


@pytest.mark.parametrize(
    ("error", "next_step", "retry"),
    [
        (ArenaChannelNotFound("c"), "copy the address from your browser", False),
        (ArenaChannelPrivate("c", with_token=False), "set ARENA_ACCESS_TOKEN", False),
        (ArenaChannelPrivate("c", with_token=True), "invite the bot's account", False),
        (ArenaRateLimited(None), "try again in a minute", True),
        (ArenaRateLimited(600), "try again in about 10 minutes", True),
        (ArenaUnavailable("x"), "try again in a minute", True),
        (ImageCountOutOfRange(2, 4, 200), "Add more image blocks", False),
        (ImageCountOutOfRange(300, 4, 200), "200 images or fewer", False),
    ],
)
def test_each_refusal_tells_the_user_what_to_do_next(
    error: UserFacingError, next_step: str, retry: bool
) -> None:
    """What a user reads in Discord: the client's own words, privately, with the ref,
    and a Retry button only where waiting can help."""
    message, unexpected = describe(error, "REF234")
    assert not unexpected  # no traceback, no "Something went wrong"
    assert next_step in message and message.endswith("(ref REF234)")
    assert can_retry(error) is retry
