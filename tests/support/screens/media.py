"""Where a picture in a payload comes from: `attachment://name` and the emulator's
attachment URLs become data URIs of the bytes the bot uploaded; the test's own fake
servers (127.0.0.1) load as they are; anything else on the internet is drawn as a
labelled placeholder, since the test run is offline and a blank box would hide it."""

from __future__ import annotations

import base64
import html
import mimetypes
from collections.abc import Mapping
from urllib.parse import urlsplit

Attachments = Mapping[str, "bytes | str"]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Media:
    def __init__(self, attachments: Attachments, uploaded: list[dict[str, object]]) -> None:
        self.attachments = attachments
        # The emulator's URL of each stored attachment, by filename.
        self.by_url = {str(a.get("url")): str(a.get("filename")) for a in uploaded}
        self.sizes = {str(a.get("filename")): a.get("size") for a in uploaded}
        self.used: set[str] = set()

    def filename(self, url: str) -> str | None:
        if url.startswith("attachment://"):
            return url.removeprefix("attachment://")
        return self.by_url.get(url)

    def source(self, url: str | None) -> str | None:
        """A URL Chromium can load, or None when the picture cannot be shown."""
        if not url:
            return None
        name = self.filename(url)
        if name is not None:
            self.used.add(name)
            found = self.attachments.get(name)
            if isinstance(found, bytes):
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return f"data:{kind};base64,{base64.b64encode(found).decode()}"
            if isinstance(found, str):
                return found
            if url.startswith("attachment://"):
                return None
        if url.startswith("data:image/"):
            return url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS:
            return url
        return None

    def img(self, url: str | None, css: str, alt: str | None = None) -> str:
        src = self.source(url)
        label = html.escape(alt or "", quote=True)
        if src is None:
            where = url or "no url"
            if where.startswith("attachment://"):
                where = f"missing {where}"
            else:
                where = urlsplit(where).hostname or where[:40]
            return (
                f'<div class="{css} offline" title="{html.escape(url or "", quote=True)}">'
                f"<span>image · {html.escape(where)}</span></div>"
            )
        return f'<img class="{css}" src="{html.escape(src, quote=True)}" alt="{label}">'
