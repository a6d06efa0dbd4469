"""A channel's images as one training zip: downloaded concurrently, checked, zipped on disk.

Memory stays bounded: a download keeps its slot (one of `concurrency`) until its image is
written into the zip, so at most `concurrency` images (each at most `max_image_bytes`)
are held at once, whatever the channel's size. One writer thread owns the zip file, which
serializes every write. Names inside the zip are generated (`0001.jpg`…) from the image's
position and its real format: remote names and titles never reach the archive (fal's
trainer gives meaning to names, e.g. `photo.txt` captions and `photo_mask.jpg` masks).

One image that cannot be used is skipped and reported, never fatal; too few usable images
is a clear refusal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp

from bot.clients.arena import ARENA_MIN_IMAGES, ArenaImage
from bot.clients.media import Fetched, MediaFetcher
from bot.errors import UserFacingError

log = logging.getLogger(__name__)

# Where Are.na serves images: the resizer (display/large/thumb) and the originals bucket.
ARENA_IMAGE_HOSTS = ("d2w9rnfcy7mm78.cloudfront.net", "images.are.na", "*.are.na")
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
# 200 display-size images (about 1200 px, rarely over 1 MB each).
DEFAULT_MAX_TOTAL_BYTES = 200 * 1024 * 1024
DEFAULT_CONCURRENCY = 8
# Formats fal's trainers are known to read. GIFs (often animated) are left out.
TRAINING_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible archives: no download-time stamps

TOTAL_LIMIT_REASON = "total size limit reached"


class ImageDownloader(Protocol):
    """What `prepare_training_zip` needs from a downloader (`MediaFetcher` is one)."""

    async def fetch(self, url: str, *, max_bytes: int = ...) -> Fetched: ...


class ZipUploader(Protocol):
    """What `upload_zip` needs (`bot.clients.fal.FalStorage` is one)."""

    async def upload_file(self, path: Path) -> str: ...


class TooFewTrainingImages(UserFacingError):
    def __init__(self, usable: int, total: int, minimum: int, reasons: dict[str, int]) -> None:
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=_by_count))
        super().__init__(
            f"Only {usable} of the channel's {total} images could be used"
            f"{f' (skipped: {why})' if why else ''}; training needs at least {minimum}. "
            "Check that the images still open on Are.na, add more, and try again."
        )
        self.usable, self.total, self.minimum = usable, total, minimum


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


@dataclass(frozen=True, slots=True)
class SkippedImage:
    block_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class PreparedZip:
    path: Path
    image_count: int
    skipped: list[SkippedImage] = field(default_factory=list)
    total_bytes: int = 0  # the images' bytes (the zip adds a few hundred bytes of headers)

    @property
    def reasons(self) -> dict[str, int]:
        """How many images were skipped, by reason."""
        return dict(Counter(s.reason for s in self.skipped))

    def cleanup(self) -> None:
        _discard(self.path)


def sniff_image_type(data: bytes) -> str | None:
    """The image format from its first bytes (the Content-Type header can be wrong)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def arena_image_fetcher(
    session: aiohttp.ClientSession,
    *,
    allowed_hosts: Iterable[str] = ARENA_IMAGE_HOSTS,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = 30.0,
) -> MediaFetcher:
    """A downloader for Are.na's image hosts (its own slots, redirects checked hop by hop)."""
    return MediaFetcher(
        session,
        allowed_hosts=allowed_hosts,
        timeout=timeout,
        concurrency=concurrency,
        max_redirects=3,
    )


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED  # JPEG/PNG/WebP are compressed already
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


async def prepare_training_zip(
    downloader: ImageDownloader,
    images: Sequence[ArenaImage],
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    concurrency: int = DEFAULT_CONCURRENCY,
    minimum: int = ARENA_MIN_IMAGES,
    allowed_types: Collection[str] = TRAINING_TYPES,
    directory: Path | None = None,
) -> PreparedZip:
    """Download `images` (their display variant) into a new zip file; the caller deletes
    it (`PreparedZip.cleanup`). Raises `TooFewTrainingImages` below `minimum`."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    fd, name = tempfile.mkstemp(prefix="training-images-", suffix=".zip", dir=directory)
    os.close(fd)
    path = Path(name)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="training-zip")
    slots = asyncio.Semaphore(max(1, concurrency))
    skipped: list[SkippedImage] = []
    written = 0
    total = 0
    full = False

    try:
        archive = await loop.run_in_executor(
            writer, lambda: zipfile.ZipFile(path, "w", zipfile.ZIP_STORED)
        )
        try:

            async def one(index: int, image: ArenaImage) -> None:
                nonlocal written, total, full
                async with slots:
                    if full:
                        skipped.append(SkippedImage(image.block_id, TOTAL_LIMIT_REASON))
                        return
                    got = await downloader.fetch(image.display_url, max_bytes=max_image_bytes)
                    if got.data is None:
                        skipped.append(SkippedImage(image.block_id, got.error or "failed"))
                        return
                    data = got.data
                    kind = sniff_image_type(data)
                    if kind is None or kind not in allowed_types:
                        shown = kind or got.content_type or "unknown"
                        skipped.append(
                            SkippedImage(image.block_id, f"unsupported format ({shown})")
                        )
                        return
                    # Check and reserve with no await in between: no other task interleaves.
                    if total + len(data) > max_total_bytes:
                        full = True
                        skipped.append(SkippedImage(image.block_id, TOTAL_LIMIT_REASON))
                        return
                    total += len(data)
                    entry = f"{index + 1:04d}{_SUFFIX[kind]}"
                    # The slot is held until the write is done: that bounds the memory.
                    await loop.run_in_executor(writer, _write, archive, entry, data)
                    written += 1

            async with asyncio.TaskGroup() as group:
                for index, image in enumerate(images):
                    group.create_task(one(index, image))
        finally:
            # Queued behind any write still running (even after a cancellation).
            await loop.run_in_executor(writer, archive.close)
    except BaseException:
        _discard(path)  # a cancelled or failed preparation leaves no file behind
        raise
    finally:
        writer.shutdown(wait=False)

    prepared = PreparedZip(path, written, skipped, total)
    log.info(
        "training zip prepared",
        extra={
            "images": written,
            "skipped": prepared.reasons,
            "bytes": total,
            "ms": round((time.monotonic() - started) * 1000),
        },
    )
    if written < minimum:
        prepared.cleanup()
        raise TooFewTrainingImages(written, len(images), minimum, prepared.reasons)
    return prepared


async def upload_zip(storage: ZipUploader, path: Path) -> str:
    """Upload the zip to fal's storage; return the URL the trainer reads it from."""
    started = time.monotonic()
    size = await asyncio.to_thread(os.path.getsize, path)
    url = await storage.upload_file(path)
    log.info(
        "training zip uploaded",
        extra={"bytes": size, "ms": round((time.monotonic() - started) * 1000)},
    )
    return url
