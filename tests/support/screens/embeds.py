"""Rich embeds as Discord draws them: colour bar, author, title, description, fields
(up to three inline fields share a row), thumbnail, image and footer. Embeds that
share the first one's `url` lend it their images, which Discord shows as one grid."""

from __future__ import annotations

import html
from typing import Any

from .markdown import Markdown
from .media import Media


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def colour(value: object, default: str = "#1e1f22") -> str:
    return f"#{value:06x}" if isinstance(value, int) and not isinstance(value, bool) else default


def merge(embeds: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(embed, extra image embeds): Discord folds up to 3 same-url embeds into the first."""
    out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for embed in embeds:
        url = embed.get("url")
        same = url and out and out[-1][0].get("url") == url and len(out[-1][1]) < 3
        if same and embed.get("image"):
            out[-1][1].append(embed)
            continue
        out.append((embed, []))
    return out


def grid(images: list[str]) -> str:
    """The mosaic Discord uses for 1 to 10 pictures (media galleries, merged embeds)."""
    count = len(images)
    return (
        f'<div class="mosaic n{min(count, 10)}">'
        + "".join(f'<div class="tile">{image}</div>' for image in images)
        + "</div>"
    )


def render_embed(
    embed: dict[str, Any], extras: list[dict[str, Any]], md: Markdown, media: Media
) -> str:
    parts: list[str] = []
    author = embed.get("author") or {}
    if author.get("name"):
        icon = media.img(author.get("icon_url"), "author-icon") if author.get("icon_url") else ""
        parts.append(f'<div class="embed-author">{icon}<span>{esc(author["name"])}</span></div>')
    if embed.get("title"):
        title = md(embed["title"], blocks=False)
        if embed.get("url"):
            title = f'<a href="{esc(embed["url"])}">{title}</a>'
        parts.append(f'<div class="embed-title">{title}</div>')
    if embed.get("description"):
        parts.append(f'<div class="embed-description">{md(embed["description"])}</div>')
    fields = embed.get("fields") or []
    if fields:
        parts.append(render_fields(fields, md))
    body = "".join(parts)
    thumbnail = embed.get("thumbnail") or {}
    side = ""
    if thumbnail.get("url"):
        side = f'<div class="embed-thumbnail">{media.img(thumbnail["url"], "thumb")}</div>'
    images = [e["image"]["url"] for e in [embed, *extras] if (e.get("image") or {}).get("url")]
    picture = ""
    if images:
        picture = '<div class="embed-media">' + grid([media.img(u, "media") for u in images])
        picture += "</div>"
    footer = embed.get("footer") or {}
    foot = ""
    if footer.get("text") or embed.get("timestamp"):
        icon = media.img(footer.get("icon_url"), "footer-icon") if footer.get("icon_url") else ""
        text = esc(footer.get("text", ""))
        if embed.get("timestamp"):
            stamp = esc(str(embed["timestamp"])[:16].replace("T", " "))
            text = f"{text} • {stamp}" if text else stamp
        foot = f'<div class="embed-footer">{icon}<span>{text}</span></div>'
    bar = colour(embed.get("color"))
    return (
        f'<article class="embed" style="border-left-color:{bar}">'
        f'<div class="embed-grid"><div class="embed-body">{body}</div>{side}</div>'
        f"{picture}{foot}</article>"
    )


def render_fields(fields: list[dict[str, Any]], md: Markdown) -> str:
    """Inline fields fill rows of up to three; a non-inline field takes a row alone."""
    rows: list[list[dict[str, Any]]] = []
    for field in fields:
        if field.get("inline") and rows and rows[-1][0].get("inline") and len(rows[-1]) < 3:
            rows[-1].append(field)
        else:
            rows.append([field])
    out = []
    for row in rows:
        cells = "".join(
            f'<div class="field"><div class="field-name">{md(f.get("name", ""))}</div>'
            f'<div class="field-value">{md(f.get("value", ""))}</div></div>'
            for f in row
        )
        out.append(f'<div class="field-row cols{len(row)}">{cells}</div>')
    return f'<div class="embed-fields">{"".join(out)}</div>'
