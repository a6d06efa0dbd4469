"""What a reader must find on the picture: the words of every text the payload shows
(content, embed parts, TextDisplays, button labels, select placeholders), compared with
the page's visible text. Markdown syntax, link targets, timestamps and mentions are
left out of the words because the page shows them transformed."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from typing import Any

HIDDEN = re.compile(r"<t:-?\d+(?::\w)?>|<@[!&]?\d+>|<#\d+>|<a?:\w+:\d+>|\]\(<?https?://[^)\s]+>?\)")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return html.unescape(" ".join(parser.parts))


def shown_texts(message: Mapping[str, Any]) -> Iterator[str]:
    """Every text of the payload that Discord would show."""
    if message.get("content"):
        yield str(message["content"])
    for embed in message.get("embeds") or []:
        yield from (str(embed[k]) for k in ("title", "description") if embed.get(k))
        for key in ("author", "footer"):
            if (embed.get(key) or {}).get("name" if key == "author" else "text"):
                yield str(embed[key].get("name") or embed[key].get("text"))
        for field in embed.get("fields") or []:
            yield str(field.get("name", ""))
            yield str(field.get("value", ""))
    yield from _component_texts(message.get("components") or [])


def _component_texts(components: list[dict[str, Any]]) -> Iterator[str]:
    for c in components:
        if c.get("type") == 10:
            yield str(c.get("content", ""))
        if c.get("label") and c.get("type") == 2:
            yield str(c["label"])
        if c.get("placeholder") and not any(o.get("default") for o in c.get("options") or []):
            yield str(c["placeholder"])
        yield from _component_texts(list(c.get("components") or []))
        if isinstance(c.get("accessory"), dict):
            yield from _component_texts([c["accessory"]])


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]{2,}", HIDDEN.sub(" ", text))


def missing_words(message: Mapping[str, Any], page: str) -> list[str]:
    """Words of the payload's texts that the rendered page does not show."""
    seen = visible_text(page)
    return [w for text in shown_texts(message) for w in words(text) if w not in seen]
