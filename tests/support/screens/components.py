"""Message components as Discord draws them: action rows of buttons and selects, and
Components V2 (Container, Section, TextDisplay, Thumbnail, MediaGallery, Separator,
File). A type this renderer does not know is drawn as a visible placeholder, so a new
component never silently disappears from a screenshot."""

from __future__ import annotations

from typing import Any

from .embeds import colour, esc, grid
from .icons import FILE
from .markdown import Markdown
from .media import Media

BUTTON_STYLES = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "premium"}
SELECT_NAMES = {5: "user", 6: "role", 7: "mentionable", 8: "channel"}


class Components:
    def __init__(self, md: Markdown, media: Media) -> None:
        self.md = md
        self.media = media

    def render(self, components: list[dict[str, Any]]) -> str:
        return "".join(self.one(c) for c in components)

    def one(self, c: dict[str, Any]) -> str:
        kind = c.get("type")
        draw = {
            1: self.action_row,
            2: self.button,
            3: self.select,
            5: self.select,
            6: self.select,
            7: self.select,
            8: self.select,
            9: self.section,
            10: self.text_display,
            11: self.thumbnail,
            12: self.media_gallery,
            13: self.file,
            14: self.separator,
            17: self.container,
        }.get(kind if isinstance(kind, int) else -1)
        if draw is None:
            return (
                f'<div class="unknown-component" data-type="{esc(kind)}">'
                f"Unsupported component (type {esc(kind)})</div>"
            )
        return draw(c)

    def action_row(self, c: dict[str, Any]) -> str:
        return f'<div class="action-row">{self.render(c.get("components") or [])}</div>'

    def button(self, c: dict[str, Any]) -> str:
        style = BUTTON_STYLES.get(c.get("style", 2), "secondary")
        emoji = c.get("emoji") or {}
        icon = ""
        if emoji.get("name"):
            name = emoji["name"]
            icon = f'<span class="emoji">{esc(f":{name}:" if emoji.get("id") else name)}</span>'
        label = f'<span class="label">{esc(c["label"])}</span>' if c.get("label") else ""
        arrow = '<span class="external">↗</span>' if style == "link" else ""
        disabled = " disabled" if c.get("disabled") else ""
        return f'<button class="button {style}{disabled}">{icon}{label}{arrow}</button>'

    def select(self, c: dict[str, Any]) -> str:
        chosen = [o for o in c.get("options") or [] if o.get("default")]
        kind = SELECT_NAMES.get(c.get("type", 3))
        text = (
            ", ".join(str(o.get("label", "")) for o in chosen)
            or c.get("placeholder")
            or (f"Select a {kind}" if kind else "Make a selection")
        )
        css = "value" if chosen else "placeholder"
        disabled = " disabled" if c.get("disabled") else ""
        return (
            f'<div class="select{disabled}"><span class="{css}">{esc(text)}</span>'
            '<span class="chevron">⌄</span></div>'
        )

    def section(self, c: dict[str, Any]) -> str:
        texts = self.render(c.get("components") or [])
        accessory = c.get("accessory")
        side = f'<div class="accessory">{self.one(accessory)}</div>' if accessory else ""
        return f'<div class="section"><div class="section-text">{texts}</div>{side}</div>'

    def text_display(self, c: dict[str, Any]) -> str:
        return f'<div class="text-display">{self.md(c.get("content", ""))}</div>'

    def thumbnail(self, c: dict[str, Any]) -> str:
        url = (c.get("media") or {}).get("url")
        spoiler = " spoiler-media" if c.get("spoiler") else ""
        return (
            f'<div class="thumbnail{spoiler}">'
            f"{self.media.img(url, 'thumb', c.get('description'))}</div>"
        )

    def media_gallery(self, c: dict[str, Any]) -> str:
        items = (c.get("items") or [])[:10]
        tiles = []
        for item in items:
            image = self.media.img(
                (item.get("media") or {}).get("url"), "media", item.get("description")
            )
            if item.get("spoiler"):
                image = f'<div class="spoiler-media">{image}</div>'
            tiles.append(image)
        return f'<div class="media-gallery">{grid(tiles)}</div>'

    def file(self, c: dict[str, Any]) -> str:
        url = str((c.get("file") or {}).get("url", ""))
        name = self.media.filename(url) or url.rsplit("/", 1)[-1] or "file"
        self.media.used.add(name)
        size = self.media.sizes.get(name)
        found = self.media.attachments.get(name)
        if size is None and isinstance(found, bytes):
            size = len(found)
        shown = f"{size:,} bytes" if isinstance(size, int) else ""
        return (
            f'<div class="file">{FILE}'
            f'<div><div class="file-name">{esc(name)}</div>'
            f'<div class="file-size">{esc(shown)}</div></div></div>'
        )

    def separator(self, c: dict[str, Any]) -> str:
        spacing = "large" if c.get("spacing") == 2 else "small"
        line = " divider" if c.get("divider", True) else ""
        return f'<div class="separator {spacing}{line}"></div>'

    def container(self, c: dict[str, Any]) -> str:
        accent = c.get("accent_color")
        style = f' style="border-left-color:{colour(accent)}"' if accent is not None else ""
        css = "container accent" if accent is not None else "container"
        if c.get("spoiler"):
            css += " spoiler-media"
        return f'<div class="{css}"{style}>{self.render(c.get("components") or [])}</div>'
