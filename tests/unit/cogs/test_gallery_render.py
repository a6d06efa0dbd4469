"""Gallery layouts (Components V2) stay within Discord's limits whatever the rows hold,
and user text is escaped; thumbnails are Are.na's small variants or generated images."""

from __future__ import annotations

import json
from typing import Any

import discord

from bot.clients.arena_images import small_variant
from bot.services.gallery import GalleryPage, LoraDetail, Navigation, PageRef, Paging
from bot.services.records import Batch, GeneratedImage, GenerationPost, NumberedImage
from cogs.gallery import render as R
from cogs.gallery.detail import detail_layout
from cogs.gallery.page import empty_layout, gallery_layout
from storage.loras import Lora, LoraFilter, to_lora
from tests.support.gallery_rows import arena_url, image_row, lora_row

NASTY = "**@everyone** <@123456789012345678> `x` ~~y~~ ||z|| [a](https://evil.test) 😀\u202e"
NAV = Navigation(PageRef(), None, PageRef(), PageRef())


def lora(**kwargs: object) -> Lora:
    return to_lora(lora_row(**kwargs))  # type: ignore[arg-type]


def paging(page: int = 1, pages: int = 1, total: int = 2) -> Paging:
    return Paging(page, pages, total, PageRef(), Navigation(None, None, None, None))


def walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found += walk(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            found += walk([component["accessory"]])
    return found


def limits_hold(view: discord.ui.LayoutView) -> list[dict[str, Any]]:
    """Discord's totals, counted on the payload itself (not only by discord.py)."""
    payload = view.to_components()
    every = walk(payload)
    assert len(every) <= R.COMPONENTS_MAX == 40
    assert sum(len(c["content"]) for c in every if c["type"] == 10) <= R.TEXT_MAX == 4000
    assert view.total_children_count == len(every)
    for c in every:
        if c["type"] == 10:
            assert 1 <= len(c["content"]) <= 4000
        if c["type"] == 2:
            assert len(c.get("label") or "") <= 80 and len(c.get("custom_id") or "") <= 100
        if c["type"] == 12:
            assert 1 <= len(c["items"]) <= 10
            assert all(len(i.get("description") or "") <= 1024 for i in c["items"])
        if c["type"] == 11:
            assert len(c["media"]["url"]) <= 2048
    return payload


def test_hostile_rows_fit_and_are_escaped() -> None:
    worst = [
        lora(
            trigger_word=(NASTY * 5)[:100],
            images=500,
            weights="https://v3.fal.media/" + "a" * 5000,
            wallet="not an address <@&1234567890123456789>",
            steps=10**12,
        ),
        lora(trigger_word="_" * 100, image_urls="[broken", weights=None, lora_id="x" * 500),
    ]
    page = GalleryPage(LoraFilter(search="**"), tuple(worst), paging(1, 5, 10))
    payload = limits_hold(gallery_layout(page))
    text = json.dumps(payload, ensure_ascii=False)
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@123456789012345678>" not in text
    assert "\u202e" not in text
    every = walk(payload)
    displays = [c["content"] for c in every if c["type"] == 10]
    assert displays[0].startswith("**LoRA gallery** · 10 LoRAs · trigger word contains “\\*\\*”")
    assert displays[1].startswith("**\\*\\*@\u200beveryone\\*\\*")
    assert "1,000,000,000,000 steps · 500 training images" in displays[1]
    assert "by not an address <@&\u200b1234567890123456789>" in displays[1]
    assert "training images unknown" in displays[2]
    # The first has a training image to show; the broken list has none (no section).
    assert [c["type"] for c in every if c["type"] in (9, 11)] == [9, 11]
    # No Generate for the 500-character id without a handle; none can be made here.
    labels = [c.get("label") for c in every if c["type"] == 2]
    assert [label for label in labels if label in ("Open", "Generate")] == ["Open", "Generate"]
    assert "Page 1 of 5" in labels  # the controls, below the cards
    assert [row["type"] for row in payload[-2:]] == [1, 1]
    assert [c["type"] for c in payload[-1]["components"]] == [3]  # the menu, last
    assert R.download_url(worst[0]) is None  # too long for a link button


def test_empty_and_no_match_read_as_sentences() -> None:
    for filters, expected in [
        (LoraFilter(), "**No LoRAs trained yet.** Be the first: run `/train`"),
        (
            LoraFilter(search="zzz"),
            "**No LoRAs match.** No LoRA has a trigger word containing “zzz”. Try another",
        ),
        (
            LoraFilter(wallet="0x" + "ab" * 20, search="a*"),
            "**No LoRAs match.** No LoRA by [0xabab…abab](https://basescan.org/address/0x"
            + "ab" * 20
            + ") has a trigger word containing “a\\*”.",
        ),
    ]:
        payload = limits_hold(empty_layout(filters))
        [text] = [c["content"] for c in walk(payload) if c["type"] == 10]
        assert text.startswith(expected), text
        assert "Nothing" not in text


def test_thumbnails_prefer_what_a_lora_made() -> None:
    made, plain_one = lora(), lora()
    generated = {made.id: "https://v3.fal.media/files/tiger/newest.jpeg"}
    page = GalleryPage(LoraFilter(), (made, plain_one), paging(), generated)
    thumbs = [c["media"]["url"] for c in walk(limits_hold(gallery_layout(page))) if c["type"] == 11]
    assert thumbs[0] == "https://v3.fal.media/files/tiger/newest.jpeg"
    assert thumbs[1].startswith("https://images.are.na/")  # never the original
    assert "cloudfront.net" not in thumbs[1]


def test_small_variants_of_arena_urls() -> None:
    original = arena_url(23810055)
    assert small_variant(original).startswith("https://images.are.na/")
    assert small_variant(small_variant(original)) == small_variant(original)
    legacy = "https://d2w9rnfcy7mm78.cloudfront.net/1460904/display_a17b47ccd?1511808471"
    assert small_variant(legacy) == legacy.replace("display_", "thumb_")
    for other in ("https://example.com/a.jpg", "not a url", "javascript:alert(1)", ""):
        assert small_variant(other) == other
    assert small_variant("https://images.are.na/bm90IGpzb24=?bc=0").endswith("bm90IGpzb24=?bc=0")


def batch(subject: Lora, n: int, size: int, prompt: str, *, post: bool) -> Batch:
    images = [
        GeneratedImage(**{**image_row(subject.id, prompt=prompt), "seed": "`" * 40})  # type: ignore[arg-type]
        for _ in range(size)
    ]
    return Batch(
        batch_id=f"b{n}" if post else None,
        prompt=prompt,
        wallet_address="0x" + "cd" * 20,
        discord_user_id=str(10**17 + n) if post else None,
        created_at="2026-02-11T10:20:30.123Z",
        size=size,
        images=tuple(NumberedImage(i, image) for i, image in enumerate(images, 1)),
        post=GenerationPost(f"b{n}", "1", str(10**18 + n), str(10**18 + n + 1)) if post else None,
    )


def test_detail_with_hostile_prompts_fits() -> None:
    subject = lora(
        trigger_word=NASTY, status="pending", weights="https://v3.fal.media/" + "w" * 3000
    )
    batches = tuple(batch(subject, n, 1, (NASTY * 20)[:500], post=n % 2 == 0) for n in range(8))
    images = tuple(b.images[0].image for b in batches)
    detail = LoraDetail(subject, images, Paging(1, 9, 72, PageRef(), NAV), batches)
    payload = limits_hold(detail_layout(detail))
    every = walk(payload)
    text = "\n".join(c["content"] for c in every if c["type"] == 10)
    assert "still training" in text
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "**Generated images** 1–8 of 72, newest first" in text
    assert "No Download button" in text  # a weights URL too long for a link button
    lines = [c["content"] for c in every if c["type"] == 10][-8:]
    assert all(" · by " in line for line in lines)
    assert sum("[thread post](https://discord.com/channels/1/" in line for line in lines) == 4
    # A gallery of the training images, then one per batch; each item numbered.
    galleries = [c for c in every if c["type"] == 12]
    assert len(galleries) == 9
    assert galleries[1]["items"][0]["description"].startswith("1 of 1: ")
    labels = [c.get("label") for c in every if c["type"] == 2]
    assert labels[:2] == ["Generate", "All LoRAs"]  # no Download: see above
    assert labels[2:] == ["« First", "‹ Previous", "Images page 1 of 9", "Next ›", "Last »"]


def test_a_batch_split_across_pages_says_which_images_it_shows() -> None:
    subject = lora()
    whole = batch(subject, 1, 4, "a cat", post=True)
    split = Batch(**{**{f: getattr(whole, f) for f in Batch.__slots__}, "images": whole.images[2:]})
    detail = LoraDetail(subject, tuple(n.image for n in split.images), paging(2, 2, 6), (split,))
    every = walk(limits_hold(detail_layout(detail)))
    line = [c["content"] for c in every if c["type"] == 10][-1]
    assert line.endswith(" · images 3–4 of 4")
    [items] = [c["items"] for c in every if c["type"] == 12][-1:]
    assert [i["description"] for i in items] == ["3 of 4: a cat", "4 of 4: a cat"]


def test_unparseable_dates_are_shown_escaped() -> None:
    assert R.relative("2026-02-11T10:20:30.123Z") == "<t:1770805230:R>"
    assert R.relative("yesterday **bold**") == "yesterday \\*\\*bold\\*\\*"
    assert R.relative("9999-99-99") == "9999-99-99"
    assert R.relative("") is None
    odd = lora(trigger_word="t")
    odd = Lora(**{**{f: getattr(odd, f) for f in Lora.__slots__}, "created_at": "**soon**"})
    assert R.lora_facts(odd).startswith("1,000 steps · 12 training images · \\*\\*soon\\*\\* · by")
