"""The Gallery service: page numbers, navigation, the short-lived total, detail pages."""

from __future__ import annotations

from bot.services.gallery import Gallery, GalleryPage, PageRef, normalise_wallet
from storage.db import Database
from storage.keyset import Mode
from storage.loras import LoraFilter
from tests.support.gallery_rows import (
    WALLET_A,
    image_row,
    insert_images,
    insert_loras,
    link_wallet,
    lora_row,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def triggers(page: GalleryPage) -> list[str]:
    return [lora.trigger_word for lora in page.loras]


async def test_walking_every_page_by_its_navigation(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(7)])
    gallery = Gallery(db, page_size=2, images_per_page=4)
    page = await gallery.page(LoraFilter(), fresh=True)
    seen = [(page.paging.page, page.paging.pages, triggers(page))]
    while page.paging.navigation.next is not None:
        page = await gallery.page(LoraFilter(), page.paging.navigation.next)
        seen.append((page.paging.page, page.paging.pages, triggers(page)))
    assert seen == [
        (1, 4, ["w6", "w5"]),
        (2, 4, ["w4", "w3"]),
        (3, 4, ["w2", "w1"]),
        (4, 4, ["w0"]),
    ]
    nav = page.paging.navigation
    assert nav.next is None and nav.last is None
    assert nav.previous == PageRef(Mode.NEWER, 3, page.loras[0].id)
    back = await gallery.page(LoraFilter(), nav.previous)
    assert (back.paging.page, triggers(back)) == (3, ["w2", "w1"])
    last = await gallery.page(LoraFilter(), PageRef(Mode.LAST, 99))
    assert (last.paging.page, last.paging.pages, triggers(last)) == (4, 4, ["w0"])
    first = await gallery.page(LoraFilter(), last.paging.navigation.first or PageRef())
    assert first.paging.navigation.first is None and first.paging.navigation.previous is None


async def test_a_forged_page_number_is_clamped_to_what_the_rows_allow(db: Database) -> None:
    rows = [lora_row(minutes=i, trigger_word=f"w{i}") for i in range(5)]
    await insert_loras(db, rows)
    gallery = Gallery(db, page_size=2, images_per_page=4)
    # "page 900" anchored after the newest row: really page 2 of 3, and it says 2 ≤ x ≤ 3.
    page = await gallery.page(LoraFilter(), PageRef(Mode.OLDER, 900, rows[-1]["id"]))
    assert triggers(page) == ["w3", "w2"]
    assert page.paging.pages >= page.paging.page >= 2
    oldest = await gallery.page(LoraFilter(), PageRef(Mode.OLDER, 900, rows[1]["id"]))
    assert triggers(oldest) == ["w0"] and oldest.paging.page == oldest.paging.pages


async def test_the_total_is_reused_briefly_then_recounted(db: Database) -> None:
    clock = FakeClock()
    gallery = Gallery(db, page_size=2, images_per_page=4, count_ttl=10, clock=clock)
    await insert_loras(db, [lora_row(minutes=i) for i in range(3)])
    assert (await gallery.page(LoraFilter(), fresh=True)).paging.total == 3
    await insert_loras(db, [lora_row(minutes=10 + i) for i in range(3)])
    cached = await gallery.page(LoraFilter())
    assert cached.paging.total == 3  # counted a moment ago
    assert (
        len(cached.loras) == 2 and cached.loras[0].created_at > "2026-02-11T10:25"
    )  # rows are live
    assert (await gallery.page(LoraFilter(), fresh=True)).paging.total == 6
    await insert_loras(db, [lora_row(minutes=20)])
    clock.now += 11
    assert (await gallery.page(LoraFilter())).paging.total == 7
    # Each filter has its own total.
    assert (await gallery.page(LoraFilter(search="nothing"))).paging.total == 0


async def test_creator_wallet_comes_from_the_linked_wallet(db: Database) -> None:
    gallery = Gallery(db, page_size=2, images_per_page=4)
    await link_wallet(db, 43, WALLET_A)
    assert await gallery.creator_wallet(43) == WALLET_A.lower()
    assert await gallery.creator_wallet(44) is None
    assert normalise_wallet(" " + WALLET_A + " ") == WALLET_A.lower()
    assert normalise_wallet("0x123") is None
    assert normalise_wallet(WALLET_A + "00") is None


async def test_detail_pages_through_generated_images(db: Database) -> None:
    lora = lora_row(trigger_word="cats")
    await insert_loras(db, [lora])
    await insert_images(db, [image_row(lora["id"], minutes=i, prompt=f"p{i}") for i in range(9)])
    gallery = Gallery(db, page_size=2, images_per_page=4)
    detail = await gallery.detail(lora["id"])
    assert detail is not None
    assert [i.prompt for i in detail.images] == ["p8", "p7", "p6", "p5"]
    assert (detail.paging.page, detail.paging.pages, detail.paging.total) == (1, 3, 9)
    assert detail.paging.navigation.next is not None
    second = await gallery.detail(lora["id"], detail.paging.navigation.next)
    assert second is not None and [i.prompt for i in second.images] == ["p4", "p3", "p2", "p1"]
    last = await gallery.detail(lora["id"], PageRef(Mode.LAST, 3))
    assert last is not None and [i.prompt for i in last.images] == ["p0"]
    assert await gallery.detail("0" * 32) is None


async def _bot_batch(db: Database, lora_id: str, images: list[dict[str, object]]) -> str:
    batch_id = "batch-" + str(images[0]["id"])
    await db.execute(
        "INSERT INTO generation_batches (id, wallet_address, discord_user_id, lora_training_id, "
        "prompt, status, image_count, created_at, finished_at) "
        "VALUES (?, ?, '42', ?, ?, 'completed', ?, ?, ?)",
        (batch_id, images[0]["wallet_address"], lora_id, images[0]["prompt"], len(images),
         images[0]["created_at"], images[0]["created_at"]),
    )  # fmt: skip
    await insert_images(db, images)
    for image in images:
        await db.execute(
            "INSERT INTO batch_images (image_id, batch_id) VALUES (?, ?)", (image["id"], batch_id)
        )
    return batch_id


async def test_images_are_grouped_into_their_batches_in_the_order_made(db: Database) -> None:
    subject = lora_row()
    await insert_loras(db, [subject])
    # The web app: one request's four images share LoRA, wallet, prompt and time.
    web = [image_row(subject["id"], minutes=1, prompt="web") for _ in range(4)]
    # Same time and wallet, another prompt: another request.
    other = [image_row(subject["id"], minutes=1, prompt="other") for _ in range(2)]
    await insert_images(db, web)
    await insert_images(db, other)
    # The bot's batch, with exactly the web batch's key: told apart by batch_images.
    bot = [image_row(subject["id"], minutes=1, prompt="web") for _ in range(3)]
    batch_id = await _bot_batch(db, subject["id"], bot)
    gallery = Gallery(db, page_size=2, images_per_page=12)
    detail = await gallery.detail(subject["id"])
    assert detail is not None
    found = {
        (b.batch_id, b.prompt): ([n.image.id for n in b.images], [n.number for n in b.images])
        for b in detail.batches
    }
    assert found == {
        (None, "web"): ([i["id"] for i in web], [1, 2, 3, 4]),
        (None, "other"): ([i["id"] for i in other], [1, 2]),
        (batch_id, "web"): ([i["id"] for i in bot], [1, 2, 3]),
    }
    bot_batch = next(b for b in detail.batches if b.batch_id == batch_id)
    assert bot_batch.discord_user_id == "42" and bot_batch.post is None and bot_batch.size == 3
    # A page that holds part of a batch numbers its images within the whole batch.
    small = await Gallery(db, page_size=2, images_per_page=1).detail(subject["id"])
    assert small is not None
    [only] = small.batches
    assert only.size in (2, 3, 4) and len(only.images) == 1
    assert 1 <= only.images[0].number <= only.size


async def test_a_page_carries_each_loras_newest_generated_image(db: Database) -> None:
    made, unmade = lora_row(minutes=2), lora_row(minutes=1)
    await insert_loras(db, [made, unmade])
    images = [image_row(made["id"], minutes=m) for m in (5, 9, 7)]
    await insert_images(db, images)
    page = await Gallery(db, page_size=5).page(LoraFilter(), fresh=True)
    assert dict(page.generated) == {made["id"]: images[1]["image_url"]}
