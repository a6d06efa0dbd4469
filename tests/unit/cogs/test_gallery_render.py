"""Gallery embeds stay within Discord's limits whatever the rows hold, and user text is
escaped; thumbnails are Are.na's small variants."""

from __future__ import annotations

import json

import discord

from bot.clients.arena_images import small_variant
from bot.services.gallery import GalleryPage, LoraDetail, Navigation, PageRef, Paging
from cogs.gallery import render as E
from storage.generated_images import GeneratedImage
from storage.loras import Lora, LoraFilter, to_lora
from tests.support.gallery_rows import arena_url, image_row, lora_row

NASTY = "**@everyone** <@123456789012345678> `x` ~~y~~ ||z|| [a](https://evil.test) 😀\u202e"


def lora(**kwargs: object) -> Lora:
    return to_lora(lora_row(**kwargs))  # type: ignore[arg-type]


def paging(page: int = 1, pages: int = 1, total: int = 2) -> Paging:
    return Paging(page, pages, total, PageRef(), Navigation(None, None, None, None))


def limits_hold(embeds: list[discord.Embed]) -> None:
    assert 1 <= len(embeds) <= E.MAX_EMBEDS
    assert E.total_chars(embeds) <= E.EMBED_CHARS_MAX
    for embed in embeds:
        data = embed.to_dict()
        assert len(data.get("title", "")) <= 256
        assert len(data.get("description", "")) <= 4096
        assert len(data.get("footer", {}).get("text", "")) <= 2048
        for field in data.get("fields", []):
            assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
        for key in ("url",):
            assert len(data.get(key, "")) <= 2048


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
    embeds = E.gallery_embeds(page)
    limits_hold(embeds)
    text = json.dumps([e.to_dict() for e in embeds], ensure_ascii=False)
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@123456789012345678>" not in text
    assert "\u202e" not in text
    first = embeds[0].to_dict()
    assert first["title"].startswith("\\*\\*@\u200beveryone\\*\\*")
    assert "+496" in first["description"]
    assert len(embeds) == 5  # 4 thumbnails for the first, none for the broken list
    broken = embeds[4].to_dict()
    assert "image" not in broken
    assert "unknown (the stored list is unreadable)" in broken["description"]
    assert "none recorded" in broken["description"]
    assert E.download_url(worst[0]) is None  # too long for a link button
    header = E.gallery_header(page)
    assert "\\*\\*" in header and len(header) <= 2000


def test_huge_text_is_cut_to_fit() -> None:
    embeds = [discord.Embed(title="t", description="d" * 4000) for _ in range(3)]
    fitted = E.fit(embeds)
    assert E.total_chars(fitted) <= E.EMBED_CHARS_MAX
    assert all(len(e.description or "") <= 4000 for e in fitted)


def test_thumbnails_share_one_url_per_lora_and_differ_between_loras() -> None:
    same_weights = "https://v3.fal.media/files/same.safetensors"
    page = GalleryPage(
        LoraFilter(),
        (lora(weights=same_weights), lora(weights=same_weights)),
        paging(),
    )
    embeds = [e.to_dict() for e in E.gallery_embeds(page)]
    assert len(embeds) == 8
    first_group = {e["url"] for e in embeds[:4]}
    second_group = {e["url"] for e in embeds[4:]}
    assert len(first_group) == 1 and len(second_group) == 1
    assert first_group != second_group
    for embed in embeds:
        assert "cloudfront.net" not in embed["image"]["url"]  # never the original
        assert embed["image"]["url"].startswith("https://images.are.na/")


def test_small_variants_of_arena_urls() -> None:
    original = arena_url(23810055)
    assert small_variant(original).startswith("https://images.are.na/")
    assert small_variant(small_variant(original)) == small_variant(original)
    legacy = "https://d2w9rnfcy7mm78.cloudfront.net/1460904/display_a17b47ccd?1511808471"
    assert small_variant(legacy) == legacy.replace("display_", "thumb_")
    for other in ("https://example.com/a.jpg", "not a url", "javascript:alert(1)", ""):
        assert small_variant(other) == other
    assert small_variant("https://images.are.na/bm90IGpzb24=?bc=0").endswith("bm90IGpzb24=?bc=0")


def test_detail_embeds_with_hostile_prompts_fit() -> None:
    subject = lora(trigger_word=NASTY, status="pending", weights=None)
    images = tuple(
        GeneratedImage(**{**image_row(subject.id, prompt=(NASTY * 20)[:500]), "seed": "`" * 40})  # type: ignore[arg-type]
        for _ in range(4)
    )
    detail = LoraDetail(subject, images, paging(1, 9, 36))
    embeds = E.detail_embeds(detail)
    limits_hold(embeds)
    assert len(embeds) == 4
    card = embeds[0].to_dict()
    assert "still training" in card["description"]
    assert card["footer"]["text"].startswith("Images 1–4 of 36 · page 1 of 9")
    assert "@everyone" not in card["fields"][0]["value"].replace("@\u200beveryone", "")


def test_unparseable_dates_are_shown_escaped() -> None:
    assert E.when("2026-02-11T10:20:30.123Z") == "<t:1770805230:R> · <t:1770805230:f>"
    assert E.when("yesterday **bold**") == "yesterday \\*\\*bold\\*\\*"
    assert E.when("9999-99-99") == "9999-99-99"
