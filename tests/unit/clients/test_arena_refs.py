"""What a user may type as a channel, and the small pure parts of the Are.na client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.clients.arena import (
    ImageCountOutOfRange,
    InvalidChannelRef,
    check_image_count,
    image_of,
    parse_channel_ref,
    parse_retry_after,
)
from bot.errors import UserFacingError
from bot.services.training.images import sniff_image_type


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("https://www.are.na/ada-lovelace/analytical-engines", "analytical-engines"),
        ("https://are.na/ada-lovelace/analytical-engines/", "analytical-engines"),
        ("https://WWW.ARE.NA/ada/analytical-engines", "analytical-engines"),
        ("https://www.are.na/ada/analytical-engines?page=2#top", "analytical-engines"),
        ("http://www.are.na/ada/analytical-engines", "analytical-engines"),
        ("https://www.are.na:443/ada/analytical-engines", "analytical-engines"),
        ("www.are.na/ada/analytical-engines", "analytical-engines"),
        ("are.na/ada/analytical-engines", "analytical-engines"),
        ("<https://www.are.na/ada/analytical-engines>", "analytical-engines"),
        ("  https://www.are.na/ada/analytical-engines  ", "analytical-engines"),
        ("https://www.are.na/ada_l.ovelace/inspiration-pkg3x0zmngw", "inspiration-pkg3x0zmngw"),
        ("https://www.are.na/ada/Mixed-Case", "mixed-case"),
        ("analytical-engines", "analytical-engines"),
        ("Analytical-Engines", "analytical-engines"),
        ("0-0-2", "0-0-2"),
        ("3284206", "3284206"),
        ("a", "a"),
    ],
)
def test_accepted_forms(text: str, slug: str) -> None:
    assert parse_channel_ref(text) == slug


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "-leading-hyphen",
        "trailing-hyphen-",
        "two words",
        "slug_with_underscore",
        "slug/with/slash",
        "../../v2/users/1",
        "%2e%2e",
        "slug?per=1000",
        "https://evil.example/ada/channel",
        "https://are.na.evil.example/ada/channel",
        "https://evilare.na/ada/channel",
        "https://www.are.na@evil.example/ada/channel",
        "https://user:pass@www.are.na/ada/channel",
        "https://www.are.na:8443/ada/channel",
        "javascript:alert(1)",
        "JaVaScRiPt://www.are.na/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://www.are.na/ada/channel",
        "https://www.are.na/",
        "https://www.are.na/ada",
        "https://www.are.na/ada/channel/extra",
        "https://www.are.na/ada//channel",
        "https://www.are.na/block/20939149",
        "https://www.are.na/search/cats",
        "https://www.are.na/ada/chan%2Fnel",
        "https://www.are.na/ada/chännel",
        "https://www.are.na/ada/..",
        "https://www.are.na/ada/-",
        "https://ｗｗｗ.are.na/ada/channel",
        "https://[::1/ada/channel",
        "a" * 201,
        "https://www.are.na/ada/" + "a" * 160,  # slugs stop at 150
        "<>",
        "\x00",
    ],
)
def test_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidChannelRef) as caught:
        parse_channel_ref(text)
    assert isinstance(caught.value, UserFacingError)
    message = caught.value.message
    # Says what a valid input looks like, whatever was wrong.
    assert "https://www.are.na/username/channel-name" in message
    assert "slug" in message


def test_a_block_link_is_named_as_such() -> None:
    with pytest.raises(InvalidChannelRef, match="not a channel"):
        parse_channel_ref("https://www.are.na/block/20939149")


def test_a_long_input_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidChannelRef, match="too long"):
        parse_channel_ref("https://www.are.na/ada/" + "a" * 200)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("120", 120.0),
        ("0.25", 0.25),
        (" 3 ", 3.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


@pytest.mark.parametrize(("count", "ok"), [(3, False), (4, True), (200, True), (201, False)])
def test_image_count_bounds(count: int, ok: bool) -> None:
    if ok:
        check_image_count(count)
        return
    with pytest.raises(ImageCountOutOfRange) as caught:
        check_image_count(count)
    limit = "at least 4" if count < 4 else "at most 200"
    assert caught.value.message.startswith(f"This channel has {count} images; training ")
    assert limit in caught.value.message


def test_image_count_bounds_are_parameters() -> None:
    check_image_count(1, minimum=1, maximum=1)
    with pytest.raises(ImageCountOutOfRange, match="has 1 image; training needs at least 2"):
        check_image_count(1, minimum=2, maximum=10)
    with pytest.raises(ImageCountOutOfRange, match="has 11 images; training takes at most 10"):
        check_image_count(11, minimum=2, maximum=10)


def _variants(*names: str) -> dict[str, object]:
    return {name: {"url": f"https://images.are.na/{name}.jpg"} for name in names}


def test_image_prefers_display_then_large_then_original() -> None:
    full = image_of({"id": 1, "title": "t", "image": _variants("thumb", "display", "original")})
    assert full is not None
    assert full.display_url.endswith("/display.jpg")
    assert full.thumb_url.endswith("/thumb.jpg")
    large = image_of({"id": 2, "image": _variants("large", "original")})
    assert large is not None
    assert large.display_url.endswith("/large.jpg")
    assert large.thumb_url.endswith("/large.jpg")
    original = image_of({"id": 3, "image": _variants("original")})
    assert original is not None
    assert original.display_url.endswith("/original.jpg")


@pytest.mark.parametrize(
    "block",
    [
        {"id": 1, "image": None},
        {"id": 1, "image": {}},
        {"id": 1, "image": {"display": {"url": "javascript:alert(1)"}}},
        {"id": 1, "image": {"display": {"url": 42}}},
        {"id": "1", "image": _variants("display")},
        {"image": _variants("display")},
    ],
)
def test_image_without_a_usable_file(block: dict[str, object]) -> None:
    assert image_of(block) is None


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"<!doctype html>", None),
        (b"", None),
    ],
)
def test_sniff_image_type(data: bytes, kind: str | None) -> None:
    assert sniff_image_type(data) == kind
