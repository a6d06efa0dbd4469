"""One recorded Discord message (the JSON the emulator stores) as an HTML page in
Discord's dark theme: author line, content, embeds, components (classic and V2),
attachments, the thread it started and the "Only you can see this" line."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .components import Components
from .embeds import esc, grid, merge, render_embed
from .icons import EYE, FILE, THREAD
from .markdown import Markdown
from .media import Attachments, Media
from .theme import CSS

EPHEMERAL = 1 << 6
IS_COMPONENTS_V2 = 1 << 15
# A picture that does not decode becomes a labelled box rather than nothing.
BROKEN_IMAGES = """
for (const img of document.querySelectorAll("img")) {
  const swap = () => {
    const box = document.createElement("div");
    box.className = img.className + " offline";
    box.innerHTML = "<span>image did not load</span>";
    img.replaceWith(box);
  };
  if (img.complete && img.naturalWidth === 0) swap(); else img.addEventListener("error", swap);
}
"""
DEFAULT_NAMES = {"41": "owner", "42": "alice", "43": "bob"}  # the emulator's users


def names_of(message: Mapping[str, Any]) -> dict[str, str]:
    names = dict(DEFAULT_NAMES)
    for user in message.get("mentions") or []:
        names[str(user.get("id"))] = str(user.get("global_name") or user.get("username"))
    return names


def render_html(
    message: Mapping[str, Any],
    *,
    attachments: Attachments | None = None,
    now: datetime | None = None,
    layout: str = "desktop",
) -> str:
    """The page for `message`; `attachments` maps filenames to their bytes (or a URL)."""
    flags = int(message.get("flags") or 0)
    md = Markdown(now=now or datetime.now(UTC), names=names_of(message))
    media = Media(attachments or {}, list(message.get("attachments") or []))
    components = Components(md, media)
    body: list[str] = []
    if message.get("content"):
        body.append(f'<div class="content">{md(message["content"])}</div>')
    # Discord's order: content, attachments, embeds, components. Embeds and components
    # are drawn first (into `later`) so the attachments they show are known.
    later = [
        render_embed(embed, extras, md, media)
        for embed, extras in merge(list(message.get("embeds") or []))
    ]
    later.append(components.render(list(message.get("components") or [])))
    # With IS_COMPONENTS_V2 only the files the components reference are shown; otherwise
    # the ones an embed does not already show.
    if not flags & IS_COMPONENTS_V2:
        body.append(loose_attachments(message, media))
    body += later
    thread = message.get("thread")
    if thread:
        # No message count: the emulator does not keep one, and a wrong number misleads.
        body.append(
            f'<div class="thread">{THREAD} <b>{esc(thread.get("name", ""))}</b>'
            ' <span class="see">See thread ›</span></div>'
        )
    if flags & EPHEMERAL:
        body.append(
            f'<div class="only-you">{EYE} Only you can see this · '
            '<span class="dismiss">Dismiss message</span></div>'
        )
    return page(message, "".join(body), flags, layout)


def loose_attachments(message: Mapping[str, Any], media: Media) -> str:
    pictures, files = [], []
    for attachment in message.get("attachments") or []:
        name = str(attachment.get("filename"))
        if name in media.used:
            continue
        if str(attachment.get("content_type", "")).startswith("image/"):
            pictures.append(
                media.img(attachment.get("url"), "media", attachment.get("description"))
            )
        else:
            files.append(
                f'<div class="file">{FILE}'
                f'<div><div class="file-name">{esc(name)}</div>'
                f'<div class="file-size">{esc(attachment.get("size", ""))} bytes</div></div></div>'
            )
    if not pictures and not files:
        return ""
    shown = grid(pictures) if pictures else ""
    return f'<div class="attachments">{shown}{"".join(files)}</div>'


def page(message: Mapping[str, Any], body: str, flags: int, layout: str) -> str:
    author = message.get("author") or {}
    name = str(author.get("global_name") or author.get("username") or "bot")
    badge = '<span class="app">APP</span>' if author.get("bot", True) else ""
    when = str(message.get("timestamp") or "")[11:16]
    edited = '<span class="edited">(edited)</span>' if message.get("edited_timestamp") else ""
    used = ""
    meta = message.get("interaction_metadata") or {}
    if meta.get("user"):
        who = meta["user"].get("global_name") or meta["user"].get("username") or "someone"
        what = f' used <span class="cmd">/{esc(meta["name"])}</span>' if meta.get("name") else ""
        used = f'<div class="used"><b>{esc(who)}</b>{what}</div>'
    elif message.get("message_reference"):
        used = '<div class="reply">↪ reply</div>'
    css = "message ephemeral" if flags & EPHEMERAL else "message"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)}</title><style>{CSS}</style></head>"
        f'<body class="{esc(layout)}"><div class="{css}">'
        f'<div class="avatar">{esc(name[:1].upper())}</div><div class="main">{used}'
        f'<div class="head"><span class="author">{esc(name)}</span>{badge}'
        f'<span class="time">Today at {esc(when)}</span>{edited}</div>'
        f"{body}</div></div><script>{BROKEN_IMAGES}</script></body></html>"
    )
