"""Small versions of Are.na image URLs, for thumbnails (never the full originals).

Are.na keeps each upload as `https://d2w9rnfcy7mm78.cloudfront.net/<id>/original_<file>`.
Its API (v2, as returned since 2023) gives the resized versions as `images.are.na`
URLs: base64 of a JSON request `{"bucket": "arena_images", "key": "<id>/original_<file>",
"edits": {...}}` to an image-resizing service. Older blocks carried CloudFront siblings
named `thumb_`, `square_`, `display_`, `large_`. From either kind of URL the `thumb`
version (at most 400 by 400, aspect kept) can be derived; any other URL is used as is.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

CLOUDFRONT_HOST = "d2w9rnfcy7mm78.cloudfront.net"
RESIZER_HOST = "images.are.na"
BUCKET = "arena_images"
# The exact request Are.na's API uses for `thumb` (same bytes, so the same cached image).
THUMB_EDITS: dict[str, Any] = {
    "resize": {"width": 400, "height": 400, "fit": "inside", "withoutEnlargement": True},
    "webp": {"quality": 75},
    "jpeg": {"quality": 75},
    "rotate": None,
}
_CLOUDFRONT_PATH = re.compile(
    r"/(?P<id>\d+)/(?P<variant>original|large|display|square|thumb)_(?P<file>[^/?#]+)"
)


def _resizer_url(key: str) -> str:
    request = {"bucket": BUCKET, "key": key, "edits": THUMB_EDITS}
    encoded = json.dumps(request, separators=(",", ":")).encode()
    return f"https://{RESIZER_HOST}/{base64.b64encode(encoded).decode()}?bc=0"


def _resizer_key(token: str) -> str | None:
    try:
        decoded = json.loads(base64.b64decode(token + "=" * (-len(token) % 4), validate=False))
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict) or decoded.get("bucket") != BUCKET:
        return None
    key = decoded.get("key")
    return key if isinstance(key, str) and key else None


def small_variant(url: str) -> str:
    """The `thumb` version of an Are.na image URL; other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        return url
    if host == CLOUDFRONT_HOST:
        match = _CLOUDFRONT_PATH.fullmatch(parts.path)
        if match is None:
            return url
        if match["variant"] == "original":
            return _resizer_url(f"{match['id']}/original_{match['file']}")
        if match["variant"] in ("large", "display", "square"):
            # A pre-2018 block: its siblings live next to it on CloudFront.
            return url.replace(f"/{match['variant']}_", "/thumb_", 1)
        return url
    if host == RESIZER_HOST:
        key = _resizer_key(parts.path.lstrip("/"))
        return _resizer_url(key) if key is not None else url
    return url
