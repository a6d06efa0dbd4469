"""Where a /generate batch was posted: first post wins, lookups in bulk."""

from __future__ import annotations

from storage import generation_posts
from storage.db import Database


async def test_record_and_read_back(db: Database) -> None:
    await generation_posts.record(db, "b1", guild_id="1", channel_id="70", message_id="900")
    await generation_posts.record(db, "b1", guild_id="1", channel_id="71", message_id="901")
    await generation_posts.record(db, "b2", guild_id=None, channel_id="5", message_id="6")
    found = await generation_posts.posts_of(db, ["b1", "b2", "missing"])
    assert set(found) == {"b1", "b2"}
    assert found["b1"].jump_url == "https://discord.com/channels/1/70/900"
    assert found["b2"].jump_url == "https://discord.com/channels/@me/5/6"
    assert await generation_posts.posts_of(db, []) == {}
