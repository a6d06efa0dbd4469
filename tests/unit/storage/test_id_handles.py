"""`id_handles`: one short random handle per long id, stable, exact (never case-folded),
and a handle nobody made resolves to nothing."""

from __future__ import annotations

import asyncio
import re

from bot.services.gallery import Gallery
from storage import id_handles
from storage.db import Database

LONG = "L" * 300


async def test_a_handle_is_made_once_and_resolves_to_exactly_its_id(db: Database) -> None:
    upper, lower = LONG + "A", LONG + "a"
    first = await id_handles.handles_for(db, [upper, lower, upper])
    assert set(first) == {upper, lower}
    assert first[upper] != first[lower]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", h) for h in first.values())
    assert await id_handles.handles_for(db, [lower, upper]) == first  # stable
    assert await id_handles.resolve(db, first[upper]) == upper
    assert await id_handles.resolve(db, first[lower]) == lower
    assert await id_handles.resolve(db, first[upper].lower()) in (None, lower, upper)
    assert await id_handles.resolve(db, "A" * 16) is None
    assert await id_handles.handles_for(db, []) == {}


async def test_concurrent_requests_for_one_id_agree(db: Database) -> None:
    results = await asyncio.gather(*(id_handles.handles_for(db, [LONG]) for _ in range(8)))
    assert len({r[LONG] for r in results}) == 1
    rows = await db.fetchall("SELECT handle FROM id_handles WHERE full_id = ?", (LONG,))
    assert len(rows) == 1


async def test_many_ids_in_one_call(db: Database) -> None:
    wanted = [f"{i:04d}-" + "z" * 200 for i in range(250)]
    handles = await id_handles.handles_for(db, wanted)
    assert list(handles) == wanted
    assert len(set(handles.values())) == 250


async def test_the_gallery_service_makes_and_reads_handles(db: Database) -> None:
    gallery = Gallery(db)
    handles = await gallery.handles_for([LONG])
    assert await gallery.resolve_handle(handles[LONG]) == LONG
