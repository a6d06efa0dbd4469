"""The gallery's SQL against a real embedded database: keyset pages in both directions,
ties on `created_at`, filters, the query plans, autocomplete, and rows written badly."""

from __future__ import annotations

from typing import Any

import pytest

from storage import generated_images, loras
from storage.db import Connection, Database
from storage.keyset import Mode, Window
from storage.loras import Lora, LoraFilter, gallery_query
from tests.support.gallery_rows import (
    WALLET_A,
    WALLET_B,
    image_row,
    insert_images,
    insert_loras,
    lora_row,
    new_id,
)

ALL = LoraFilter()


async def window(
    db: Database,
    flt: LoraFilter = ALL,
    mode: Mode = Mode.FIRST,
    anchor: str | None = None,
    size: int = 3,
) -> Window[Lora]:
    return await loras.gallery_window(db, flt, mode=mode, anchor_id=anchor, size=size)


async def walk_forward(db: Database, flt: LoraFilter = ALL, size: int = 3) -> list[list[str]]:
    pages = [await window(db, flt, size=size)]
    while pages[-1].has_older:
        pages.append(await window(db, flt, Mode.OLDER, pages[-1].items[-1].id, size))
    return [[lora.trigger_word for lora in page.items] for page in pages]


async def test_pages_forward_and_back_cover_every_row_once_newest_first(db: Database) -> None:
    # Ten LoRAs, four of them sharing one timestamp: the id breaks the tie.
    rows = [
        lora_row(minutes=m, trigger_word=f"w{i}")
        for i, m in enumerate([0, 1, 2, 3, 3, 3, 3, 4, 5, 6])
    ]
    rows.append(lora_row(minutes=9, trigger_word="pending", status="pending"))
    await insert_loras(db, rows)
    expected = [
        r["trigger_word"]
        for r in sorted(rows[:10], key=lambda r: (r["created_at"], r["id"]), reverse=True)
    ]

    forward = await walk_forward(db)
    assert [len(p) for p in forward] == [3, 3, 3, 1]
    assert [word for page in forward for word in page] == expected

    # Back from the last page, read from the oldest end: the same pages, reversed.
    last = await window(db, mode=Mode.LAST)
    assert last.mode is Mode.LAST and not last.has_older and last.has_newer
    pages = [last]
    while pages[-1].has_newer:
        pages.append(await window(db, mode=Mode.NEWER, anchor=pages[-1].items[0].id))
    backward = [[lora.trigger_word for lora in p.items] for p in pages]
    assert backward[::-1] == forward
    assert {p.total for p in pages} == {10}


@pytest.mark.parametrize("count", [0, 1, 3, 4])
async def test_edges_empty_one_and_exact_pages(db: Database, count: int) -> None:
    await insert_loras(db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(count)])
    first = await window(db)
    assert first.total == count
    assert len(first.items) == min(count, 3)
    assert not first.has_newer
    assert first.has_older == (count > 3)
    last = await window(db, mode=Mode.LAST)
    assert len(last.items) == (count - 1) % 3 + 1 if count else last.items == ()
    assert not last.has_older


async def test_a_vanished_anchor_falls_back_to_the_first_page(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)])
    gone = await window(db, mode=Mode.OLDER, anchor=new_id())
    assert gone.mode is Mode.FIRST
    assert [lora.trigger_word for lora in gone.items] == ["w4", "w3", "w2"]
    # Nothing older than the oldest row any more: the last page.
    oldest = (await window(db, mode=Mode.LAST)).items[-1].id
    beyond = await window(db, mode=Mode.OLDER, anchor=oldest)
    assert beyond.mode is Mode.LAST


async def test_creator_filter_ignores_address_case_and_search_escapes_wildcards(
    db: Database,
) -> None:
    await insert_loras(
        db,
        [
            lora_row(minutes=1, trigger_word="Cat_Style", wallet=WALLET_A),
            lora_row(minutes=2, trigger_word="catXstyle", wallet=WALLET_B),
            lora_row(minutes=3, trigger_word="100%cats", wallet=WALLET_B.lower()),
            lora_row(minutes=4, trigger_word="dogs", wallet=WALLET_B),
        ],
    )
    by_b = await window(db, LoraFilter(wallet=WALLET_B.lower()), size=10)
    assert [x.trigger_word for x in by_b.items] == ["dogs", "100%cats", "catXstyle"]
    # "_" is a literal underscore, not "any character"; matching ignores ASCII case.
    underscore = await window(db, LoraFilter(search="T_s"), size=10)
    assert [x.trigger_word for x in underscore.items] == ["Cat_Style"]
    percent = await window(db, LoraFilter(search="0%c"), size=10)
    assert [x.trigger_word for x in percent.items] == ["100%cats"]
    both = await window(db, LoraFilter(wallet=WALLET_B, search="CAT"), size=10)
    assert [x.trigger_word for x in both.items] == ["100%cats", "catXstyle"]
    assert both.total == 2


def plans(conn: Connection, flt: LoraFilter) -> dict[str, str]:
    query = gallery_query(flt)
    base = f"SELECT {query.columns} FROM {query.table} WHERE {query.where}"
    anchor = ("2026-01-01T00:00:00.000Z", "0" * 32)
    sqls: dict[str, tuple[str, tuple[Any, ...]]] = {
        "first": (f"{base} ORDER BY created_at DESC, id DESC LIMIT 3", query.params),
        "older": (
            f"{base} AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT 3",
            (*query.params, *anchor),
        ),
        "newer": (
            f"{base} AND (created_at, id) > (?, ?) ORDER BY created_at ASC, id ASC LIMIT 3",
            (*query.params, *anchor),
        ),
        "count": (f"SELECT COUNT(*) FROM {query.table} WHERE {query.where}", query.params),
    }
    return {
        name: " | ".join(
            str(r[-1]) for r in conn.raw.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        )
        for name, (sql, params) in sqls.items()
    }


async def test_pages_are_index_range_scans_without_a_sort(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=i) for i in range(50)])
    unfiltered = await db.run(plans, ALL)
    for name in ("first", "older", "newer"):
        assert "idx_lora_trainings_gallery" in unfiltered[name], unfiltered
        assert "TEMP B-TREE" not in unfiltered[name], unfiltered
    assert "(created_at,id)<" in unfiltered["older"].replace(" ", "")
    assert "COVERING INDEX" in unfiltered["count"]
    creator = await db.run(plans, LoraFilter(wallet=WALLET_A))
    for name in ("first", "older", "newer", "count"):
        assert "idx_lora_trainings_creator" in creator[name], creator
        assert "TEMP B-TREE" not in creator[name], creator


async def test_malformed_rows_are_read_without_failing(db: Database) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="broken", image_urls="[not json"),
        lora_row(minutes=2, trigger_word="object", image_urls='{"a": 1}'),
        lora_row(minutes=3, trigger_word="mixed", image_urls='["https://x.test/a.jpg", 5, null]'),
        lora_row(minutes=4, trigger_word="deep", image_urls="[" * 100_000),
        lora_row(minutes=5, trigger_word="no weights", weights=None),
    ]
    await insert_loras(db, rows)
    items = {x.trigger_word: x for x in (await window(db, size=10)).items}
    assert items["broken"].image_count is None and items["broken"].image_urls == ()
    assert items["object"].image_count is None
    assert items["deep"].image_count is None
    assert items["mixed"].image_urls == ("https://x.test/a.jpg",)
    assert items["no weights"].lora_weights_url is None


async def test_find_by_id_or_trigger_word(db: Database) -> None:
    old = lora_row(minutes=1, trigger_word="Moody")
    new = lora_row(minutes=2, trigger_word="moody")
    pending = lora_row(minutes=3, trigger_word="moody", status="pending")
    await insert_loras(db, [old, new, pending])
    assert (await loras.find(db, old["id"])) is not None
    assert (await loras.find(db, old["id"].upper())).id == old["id"]  # type: ignore[union-attr]
    assert (await loras.find(db, "MOODY")).id == new["id"]  # type: ignore[union-attr]
    assert (await loras.find(db, pending["id"])).status == "pending"  # type: ignore[union-attr]
    assert await loras.find(db, "nothing") is None
    assert await loras.find(db, "   ") is None


async def test_suggestions_put_prefixes_first_and_stop_at_the_limit(db: Database) -> None:
    rows = [
        lora_row(minutes=1, trigger_word="watercolor"),
        lora_row(minutes=2, trigger_word="Water"),
        lora_row(minutes=3, trigger_word="dark water"),
        lora_row(minutes=4, trigger_word="waterfall", status="failed"),
        lora_row(minutes=5, trigger_word="under_water%"),
        *[lora_row(minutes=10 + i, trigger_word=f"zz{i:02d}") for i in range(30)],
    ]
    await insert_loras(db, rows)
    names = [c.trigger_word for c in await loras.suggest(db, "water")]
    assert names == ["Water", "watercolor", "dark water", "under_water%"]
    assert [c.trigger_word for c in await loras.suggest(db, "r_w")] == ["under_water%"]
    assert len(await loras.suggest(db, "zz")) == 25
    newest = await loras.suggest(db, "")
    assert len(newest) == 25 and newest[0].trigger_word == "zz29"
    by_id = await loras.suggest(db, rows[0]["id"][:8])
    assert by_id[0].id == rows[0]["id"]


async def test_detail_reads_the_lora_and_a_page_of_its_images(db: Database) -> None:
    lora = lora_row(trigger_word="cats")
    other = lora_row(trigger_word="dogs")
    await insert_loras(db, [lora, other])
    await insert_images(db, [image_row(lora["id"], minutes=i, prompt=f"p{i}") for i in range(6)])
    await insert_images(db, [image_row(other["id"], minutes=i) for i in range(3)])
    found, page = await generated_images.detail(
        db, lora["id"], mode=Mode.FIRST, anchor_id=None, size=4
    )
    assert found is not None and found.trigger_word == "cats"
    assert [i.prompt for i in page.items] == ["p5", "p4", "p3", "p2"]
    assert page.total == 6 and page.has_older
    _, older = await generated_images.detail(
        db, lora["id"], mode=Mode.OLDER, anchor_id=page.items[-1].id, size=4
    )
    assert [i.prompt for i in older.items] == ["p1", "p0"]
    missing, empty = await generated_images.detail(
        db, new_id(), mode=Mode.FIRST, anchor_id=None, size=4
    )
    assert missing is None and empty.items == ()


async def test_web_app_ids_are_found_exactly_and_by_what_users_type(db: Database) -> None:
    await db.execute(
        "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
        "image_urls, lora_weights_url, status, created_at) VALUES (hex(randomblob(16)), "
        "'req-upper', ?, 'upper style', 1000, '[]', 'https://v3.fal.media/w.safetensors', "
        "'completed', '2026-02-11T10:20:30.123Z')",
        (WALLET_A,),
    )
    row = await db.fetchone("SELECT id FROM lora_trainings WHERE request_id = 'req-upper'")
    assert row is not None
    upper = str(row["id"])
    assert upper == upper.upper() and len(upper) == 32
    assert (await loras.get(db, upper)) is not None
    assert await loras.get(db, upper.lower()) is None  # a button's lookup is exact
    found = await loras.find(db, upper.lower())  # what a user typed may differ in case
    assert found is not None and found.id == upper
    for typed in (upper[:6], upper[:6].lower()):
        assert [c.id for c in await loras.suggest(db, typed)] == [upper]
