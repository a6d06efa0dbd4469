"""Reading the Components V2 messages the bot sends, as the tests see them: every
component (nested ones included), the text, the LoRAs' names, the pictures, the page."""

from __future__ import annotations

import re
from typing import Any

IS_COMPONENTS_V2 = 1 << 15
GALLERY_ITEMS, TEXT_DISPLAY, THUMBNAIL = 12, 10, 11


def walk(components: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every component of a message, depth first, section accessories included."""
    found: list[dict[str, Any]] = []
    for component in components or []:
        found.append(component)
        found += walk(component.get("components"))
        if isinstance(component.get("accessory"), dict):
            found += walk([component["accessory"]])
    return found


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Buttons and menus, in reading order."""
    return [c for c in walk(message.get("components")) if c["type"] in (2, 3)]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if (b.get("label") or "").startswith(label)]
    assert len(found) == 1, [b.get("label") for b in buttons(message)]
    return found[0]


def texts(message: dict[str, Any]) -> str:
    """All the text a Components V2 message shows, one text display a line."""
    assert message["flags"] & IS_COMPONENTS_V2 and not message["content"]
    assert not message["embeds"]
    return "\n".join(c["content"] for c in walk(message["components"]) if c["type"] == TEXT_DISPLAY)


def titles(message: dict[str, Any]) -> list[str]:
    """The LoRAs' names: a card's bold first line, a detail page's heading."""
    names = []
    for component in walk(message["components"]):
        if component["type"] != TEXT_DISPLAY:
            continue
        first = component["content"].split("\n", 1)[0]
        if match := re.fullmatch(r"\*\*(.+)\*\*|## (.+)", first):
            names.append(match[1] or match[2])
    return names


def media(message: dict[str, Any]) -> list[str]:
    """Every image URL shown, in order (thumbnails and galleries)."""
    urls = []
    for component in walk(message["components"]):
        if component["type"] == THUMBNAIL:
            urls.append(component["media"]["url"])
        elif component["type"] == GALLERY_ITEMS:
            urls += [item["media"]["url"] for item in component["items"]]
    return urls


def page_of(message: dict[str, Any]) -> str:
    """ "x/y" from the page controls' "Page x of y" (a single page has no controls)."""
    labels = [b.get("label") or "" for b in buttons(message)]
    pattern = r"(?:Images page|Page) ([\d,]+) of ([\d,]+)"
    found = [m for label in labels if (m := re.fullmatch(pattern, label))]
    if not found:
        assert not {label.split(" ")[-1] for label in labels} & {"First", "Previous", "›", "»"}
        return "1/1"
    assert len(found) == 1, labels
    return f"{found[0][1]}/{found[0][2]}"


def card_text(message: dict[str, Any], name: str) -> str:
    """The text display of the card (or detail heading) for the LoRA called `name`."""
    found = [
        c["content"]
        for c in walk(message["components"])
        if c["type"] == TEXT_DISPLAY
        and c["content"].split("\n", 1)[0] in (f"**{name}**", f"## {name}")
    ]
    assert len(found) == 1, texts(message)
    return found[0]
