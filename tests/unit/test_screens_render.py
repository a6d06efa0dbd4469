"""The screenshot renderer (tests/support/screens): every component type becomes its
element with its text escaped, unknown types stay visible, markdown and timestamps read
as Discord shows them, and pictures come from the bytes the bot uploaded."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.support.screens import render_html
from tests.support.screens.markdown import Markdown, relative
from tests.support.screens.pictures import sample_png
from tests.support.screens.texts import missing_words, visible_text

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PNG = sample_png(1, size=8)
V2, EPHEMERAL = 1 << 15, 1 << 6


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def all(self, css: str) -> list[Node]:
        found = [self] if css in self.classes else []
        for child in self.children:
            if isinstance(child, Node):
                found += child.all(css)
        return found

    def tags(self, tag: str) -> list[Node]:
        found = [self] if self.tag == tag else []
        for child in self.children:
            if isinstance(child, Node):
                found += child.tags(tag)
        return found

    def one(self, css: str) -> Node:
        (found,) = self.all(css)
        return found


class _Tree(HTMLParser):
    VOID = frozenset({"img", "br", "meta", "path"})

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def tree(message: dict[str, Any], **kwargs: Any) -> Node:
    parser = _Tree()
    parser.feed(render_html(message, now=NOW, **kwargs))
    return parser.root


def v2(*components: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"flags": V2, "components": list(components), **extra}


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def test_a_script_in_a_title_is_text() -> None:
    hostile = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
    message = {
        "content": hostile,
        "embeds": [
            {
                "title": hostile,
                "description": hostile,
                "fields": [{"name": hostile, "value": hostile}],
            }
        ],
        "components": [
            {"type": 1, "components": [{"type": 2, "style": 1, "label": hostile, "custom_id": "x"}]}
        ],
    }
    page = render_html(message, now=NOW)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6
    root = tree(message)
    assert hostile in root.one("embed-title").text
    assert hostile in root.one("button").text
    v2_page = render_html(v2({"type": 17, "components": [text(hostile)]}), now=NOW)
    assert "<script>alert" not in v2_page and "&lt;script&gt;alert(1)" in v2_page


def test_an_unknown_component_is_a_visible_placeholder() -> None:
    root = tree(v2({"type": 17, "components": [{"type": 99, "content": "new"}, text("after")]}))
    placeholder = root.one("unknown-component")
    assert placeholder.attrs["data-type"] == "99"
    assert "type 99" in placeholder.text
    assert "after" in root.one("container").text
    top = tree({"components": [{"type": 1, "components": [{"type": 42}]}]})
    assert "type 42" in top.one("unknown-component").text


@pytest.mark.parametrize(
    ("style", "css"),
    [(1, "primary"), (2, "secondary"), (3, "success"), (4, "danger"), (5, "link"), (6, "premium")],
)
def test_buttons_of_every_style(style: int, css: str) -> None:
    button = {"type": 2, "style": style, "label": "Go <now>", "custom_id": "c", "disabled": True}
    if style == 5:
        button = {"type": 2, "style": 5, "label": "Go <now>", "url": "https://example.com"}
    root = tree({"components": [{"type": 1, "components": [button]}]})
    drawn = root.one("button")
    assert css in drawn.classes
    assert "Go <now>" in drawn.text
    assert ("disabled" in drawn.classes) == (style != 5)
    assert ("↗" in drawn.text) == (style == 5)  # link buttons show they leave Discord


def test_a_string_select_shows_its_placeholder_or_its_default() -> None:
    options = [{"label": "One", "value": "1"}, {"label": "Two", "value": "2"}]
    menu = {"type": 3, "custom_id": "m", "placeholder": "Open a LoRA…", "options": options}
    root = tree({"components": [{"type": 1, "components": [menu]}]})
    assert root.one("select").one("placeholder").text == "Open a LoRA…"
    chosen = {**menu, "options": [options[0], {**options[1], "default": True}]}
    root = tree({"components": [{"type": 1, "components": [chosen]}]})
    assert root.one("select").one("value").text == "Two"


def test_container_with_accent_sections_separators_and_file() -> None:
    message = v2(
        {
            "type": 17,
            "accent_color": 0x3BA55D,
            "components": [
                {
                    "type": 9,
                    "components": [text("**sks style** · 1,000 steps")],
                    "accessory": {"type": 11, "media": {"url": "attachment://a.png"}},
                },
                {"type": 14, "spacing": 2, "divider": False},
                {
                    "type": 9,
                    "components": [text("moody light")],
                    "accessory": {"type": 2, "style": 2, "label": "Open", "custom_id": "o"},
                },
                {"type": 14},
                {"type": 13, "file": {"url": "attachment://w.safetensors"}},
            ],
        },
        attachments=[{"filename": "a.png", "url": "http://127.0.0.1:1/a.png", "size": len(PNG)}],
    )
    root = tree(message, attachments={"a.png": PNG, "w.safetensors": b"x" * 1234})
    container = root.one("container")
    assert "border-left-color:#3ba55d" in container.attrs["style"]
    first, second = container.all("section")
    assert first.one("text-display").tags("strong")[0].text == "sks style"
    thumb = first.one("accessory").one("thumb")
    assert thumb.attrs["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert second.one("accessory").one("button").text == "Open"
    large, small = container.all("separator")
    assert {"large"} <= large.classes and "divider" not in large.classes
    assert {"small", "divider"} <= small.classes  # the defaults: small, with a line
    assert container.one("file-name").text == "w.safetensors"
    assert container.one("file-size").text == "1,234 bytes"


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 10])
def test_media_gallery_uses_discords_layout_for_each_count(count: int) -> None:
    items = [{"media": {"url": f"attachment://{n}.png"}} for n in range(count)]
    attachments = {f"{n}.png": PNG for n in range(count)}
    root = tree(v2({"type": 12, "items": items}), attachments=attachments)
    mosaic = root.one("mosaic")
    assert f"n{count}" in mosaic.classes
    assert len(mosaic.all("tile")) == count
    assert len(mosaic.all("media")) == count


def test_pictures_come_from_uploads_local_servers_or_a_labelled_placeholder() -> None:
    message = v2(
        {
            "type": 12,
            "items": [
                {"media": {"url": "attachment://up.png"}},
                {"media": {"url": "http://127.0.0.1:8123/pictures/1.png"}},
                {"media": {"url": "https://images.are.na/abc.jpg"}},
                {"media": {"url": "attachment://gone.png"}},
            ],
        }
    )
    tiles = tree(message, attachments={"up.png": PNG}).one("mosaic").all("tile")
    sources = [t.all("media")[0].attrs.get("src") for t in tiles]
    assert sources[0] is not None and sources[0].startswith("data:image/png;base64,")
    assert sources[1] == "http://127.0.0.1:8123/pictures/1.png"  # the test's fake server
    assert sources[2] is None and "images.are.na" in tiles[2].text  # offline: never fetched
    assert sources[3] is None and "missing attachment://gone.png" in tiles[3].text


def test_an_embed_with_fields_thumbnail_image_footer_and_colour() -> None:
    embed = {
        "title": "Trained mystyle",
        "url": "https://example.com/lora",
        "color": 0x57F287,
        "description": "Ready",
        "fields": [
            {"name": "A", "value": "1", "inline": True},
            {"name": "B", "value": "2", "inline": True},
            {"name": "C", "value": "3", "inline": True},
            {"name": "D", "value": "4", "inline": True},
            {"name": "Prompt", "value": "a cat", "inline": False},
        ],
        "thumbnail": {"url": "http://127.0.0.1:9/t.png"},
        "image": {"url": "http://127.0.0.1:9/i.png"},
        "footer": {"text": "LoRA 1234"},
    }
    root = tree({"embeds": [embed]})
    drawn = root.one("embed")
    assert "border-left-color:#57f287" in drawn.attrs["style"]
    assert drawn.one("embed-title").tags("a")[0].attrs["href"] == "https://example.com/lora"
    rows = drawn.all("field-row")
    assert [len(r.all("field")) for r in rows] == [3, 1, 1]  # three inline fields a row
    assert drawn.one("embed-thumbnail").one("thumb").attrs["src"] == "http://127.0.0.1:9/t.png"
    assert drawn.one("embed-media").one("media").attrs["src"] == "http://127.0.0.1:9/i.png"
    assert drawn.one("embed-footer").text == "LoRA 1234"


def test_same_url_embeds_fold_into_one_picture_grid() -> None:
    url = "https://example.com/a"
    embeds = [
        {"title": "card", "url": url, "image": {"url": f"http://127.0.0.1:9/{n}.png"}}
        for n in range(4)
    ]
    embeds[1:] = [{"url": url, "image": e["image"]} for e in embeds[1:]]
    root = tree({"embeds": [*embeds, {"title": "next", "url": "https://example.com/b"}]})
    first, second = root.all("embed")
    assert "n4" in first.one("mosaic").classes
    assert second.one("embed-title").text == "next"


def test_attachments_shown_once_and_only_when_discord_shows_them() -> None:
    files = [
        {"filename": "0.png", "url": "http://127.0.0.1:1/0.png", "content_type": "image/png"},
        {"filename": "1.png", "url": "http://127.0.0.1:1/1.png", "content_type": "image/png"},
    ]
    attachments = {"0.png": PNG, "1.png": PNG}
    # An embed already shows 0.png (the emulator rewrote attachment://0.png to its URL).
    classic = {"embeds": [{"title": "t", "image": {"url": files[0]["url"]}}], "attachments": files}
    root = tree(classic, attachments=attachments)
    assert len(root.all("media")) == 2  # one in the embed, one loose
    assert len(root.one("attachments").all("media")) == 1
    # Components V2 show only what a component references.
    referenced = v2(
        {"type": 12, "items": [{"media": {"url": "attachment://1.png"}}]}, attachments=files
    )
    assert len(tree(referenced, attachments=attachments).all("media")) == 1


def test_only_you_can_see_this_when_ephemeral() -> None:
    assert "Only you can see this" in visible_text(
        render_html({"content": "hi", "flags": EPHEMERAL})
    )
    assert "Only you can see this" not in visible_text(render_html({"content": "hi", "flags": 0}))


def test_markdown_reads_as_discord_shows_it() -> None:
    md = Markdown(now=NOW, names={"42": "alice"})
    soon, earlier = (
        int((NOW + timedelta(minutes=15)).timestamp()),
        int((NOW - timedelta(hours=3)).timestamp()),
    )
    out = md(
        f"**bold** *it* `a*b` [site](https://example.com) \\*not\\* <@42> <t:{soon}:R> <t:{earlier}:R>"
        "\n```\n<b>code</b>\n```"
    )
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out
    assert '<code class="inline">a*b</code>' in out
    assert '<a href="https://example.com">site</a>' in out
    assert "*not*" in out and "<em>not</em>" not in out
    assert '<span class="mention">@alice</span>' in out
    assert "in 15 minutes" in out and "3 hours ago" in out
    assert '<pre class="codeblock"><code>&lt;b&gt;code&lt;/b&gt;</code></pre>' in out
    assert md("<t:0:D> <t:0:t>") == (
        '<span class="timestamp">1 January 1970</span> <span class="timestamp">00:00</span>'
    )


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=10), "in a few seconds"),
        (timedelta(minutes=-1), "a minute ago"),
        (timedelta(minutes=15), "in 15 minutes"),
        (timedelta(hours=-3), "3 hours ago"),
        (timedelta(days=1), "in a day"),
        (timedelta(days=-5), "5 days ago"),
        (timedelta(days=-300), "10 months ago"),
        (timedelta(days=800), "in 2 years"),
    ],
)
def test_relative_time_words(delta: timedelta, words: str) -> None:
    assert relative(NOW + delta, NOW) == words


def test_missing_words_notices_a_dropped_text() -> None:
    message = v2({"type": 17, "components": [text("## Gallery\nmoody light · **1,000** steps")]})
    page = render_html(message, now=NOW)
    assert missing_words(message, page) == []
    assert missing_words(message, page.replace("moody light", "")) == ["moody", "light"]
