"""`siwe_challenges` units on the real database: consuming re-checks expiry, attempts
are reserved atomically, and expired links drop their Discord interaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import link_challenges, wallets
from storage.db import Database
from storage.link_challenges import Challenge
from storage.timefmt import iso

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ADDRESS = "0x" + "ab" * 20


def challenge(token: str, *, at: datetime = NOW, user: int = 42) -> Challenge:
    return Challenge(
        token=token,
        discord_user_id=user,
        discord_user_name="alice",
        nonce=f"nonce{token}",
        address=None,
        message=None,
        created_at=iso(at),
        expires_at=iso(at + timedelta(minutes=10)),
        consumed_at=None,
        application_id=None,
        interaction_token=None,
        message_id=None,
        request_id=f"req{token}",
    )


async def create(db: Database, made: Challenge) -> None:
    refused = await link_challenges.create(
        db,
        made,
        now=made.created_at,
        minute_ago=iso(NOW - timedelta(minutes=1)),
        max_open=100,
        max_per_minute=100,
    )
    assert refused is None


async def test_request_id_and_attempts_are_stored(db: Database) -> None:
    await create(db, challenge("t" * 30))
    stored = await link_challenges.get(db, "t" * 30)
    assert stored is not None
    assert (stored.request_id, stored.signature_attempts) == ("req" + "t" * 30, 0)


async def test_consuming_refuses_a_token_that_expired_after_it_was_checked(db: Database) -> None:
    made = challenge("e" * 30)
    await create(db, made)
    assert await link_challenges.set_message(db, made.token, ADDRESS, "the text")
    # The service checked the token at 12:09:59; the signature check took 2 s.
    expiry = NOW + timedelta(minutes=10)
    for late in (expiry, expiry + timedelta(seconds=1)):
        linked = await link_challenges.consume_and_link(
            db, made.token, address=ADDRESS, message="the text", proof="eoa", now=iso(late)
        )
        assert linked is None
    assert await wallets.get_link(db, 42) is None
    after = await link_challenges.get(db, made.token)
    assert after is not None and after.consumed_at is None
    # A millisecond before expiry it still links.
    linked = await link_challenges.consume_and_link(
        db,
        made.token,
        address=ADDRESS,
        message="the text",
        proof="eoa",
        now=iso(expiry - timedelta(milliseconds=1)),
    )
    assert linked == 42


async def test_attempts_are_reserved_atomically_up_to_the_limit(db: Database) -> None:
    made = challenge("a" * 30)
    await create(db, made)
    reserved = await asyncio.gather(
        *(
            link_challenges.reserve_attempt(db, made.token, now=iso(NOW), max_attempts=5)
            for _ in range(9)
        )
    )
    assert sorted(r for r in reserved if r is not None) == [1, 2, 3, 4, 5]
    assert reserved.count(None) == 4
    # Nor for an expired or unknown token.
    other = challenge("b" * 30)
    await create(db, other)
    late = iso(NOW + timedelta(minutes=10))
    assert await link_challenges.reserve_attempt(db, other.token, now=late, max_attempts=5) is None
    assert await link_challenges.reserve_attempt(db, "c" * 30, now=iso(NOW), max_attempts=5) is None


async def test_expired_links_forget_their_interaction(db: Database) -> None:
    expired, fresh = challenge("x" * 30), challenge("y" * 30, at=NOW + timedelta(minutes=5))
    for made, secret in ((expired, "old-interaction"), (fresh, "new-interaction")):
        await create(db, made)
        await link_challenges.attach_interaction(db, made.token, 1234, secret, 5678)
    now = iso(NOW + timedelta(minutes=10))  # the first expires now, the second in 5 minutes
    assert await link_challenges.forget_expired_interactions(db, now=now) == 1
    assert await link_challenges.forget_expired_interactions(db, now=now) == 0
    gone, kept = (
        await link_challenges.get(db, expired.token),
        await link_challenges.get(db, fresh.token),
    )
    assert gone is not None and kept is not None
    assert (gone.application_id, gone.interaction_token, gone.message_id) == (None, None, None)
    assert (kept.application_id, kept.interaction_token, kept.message_id) == (
        1234,
        "new-interaction",
        5678,
    )
    # The row itself stays until the daily purge.
    assert await link_challenges.purge(db, expired_before=now) == 0
