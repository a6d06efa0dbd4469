"""Training images: Are.na channel → downloads → zip → fal storage, over real HTTP against
the local fake Are.na (images included) and the local fake fal storage."""

from __future__ import annotations

import asyncio
import io
import logging
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import fal_client.client as fal_internals
import pytest

from bot.clients.arena import ArenaClient, ArenaImage
from bot.clients.fal import FalStorage, FalStorageUnavailable, configure_storage_endpoints
from bot.clients.media import MediaFetcher
from bot.services.training.images import (
    TOTAL_LIMIT_REASON,
    SkippedImage,
    TooFewTrainingImages,
    arena_image_fetcher,
    prepare_training_zip,
    upload_zip,
)
from tests.fakes.arena import FakeArena
from tests.fakes.fal_storage import FakeFalStorage

FAL_KEY = "fake-id:fake-secret"
LOOPBACK = ("127.0.0.1",)


@pytest.fixture
async def arena() -> AsyncIterator[FakeArena]:
    fake = await FakeArena().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def fetcher(session: aiohttp.ClientSession) -> MediaFetcher:
    # Loopback is allowed explicitly: the fake serves the images.
    return arena_image_fetcher(session, allowed_hosts=LOOPBACK, timeout=2)


@pytest.fixture
async def storage(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeFalStorage]:
    fake = await FakeFalStorage().start()
    # Restored after the test: fal-client's hosts are module constants.
    monkeypatch.setattr(fal_internals, "REST_URL", fal_internals.REST_URL)
    monkeypatch.setattr(fal_internals, "CDN_URL", fal_internals.CDN_URL)
    configure_storage_endpoints(fake.base_url + "/", fake.base_url)
    try:
        yield fake
    finally:
        await fake.stop()


async def channel_images(
    session: aiohttp.ClientSession, arena: FakeArena, images: int = 6, **options: int
) -> list[ArenaImage]:
    arena.add_channel("training", images=images, others={"Text": 2, "Link": 1}, **options)
    channel = await ArenaClient(session, arena.base_url, timeout=2).fetch_channel("training")
    return list(channel.images)


def entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


async def test_the_zip_holds_every_image_under_a_safe_name(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 6)
    ids = [image.block_id for image in images]
    arena.image_types[ids[2]] = "png"
    arena.image_requests.clear()

    prepared = await prepare_training_zip(fetcher, images, concurrency=3, directory=tmp_path)

    assert prepared.image_count == 6
    assert prepared.skipped == []
    names = ["0001.jpg", "0002.jpg", "0003.png", "0004.jpg", "0005.jpg", "0006.jpg"]
    content = entries(prepared.path)
    assert sorted(content) == names
    for name, block_id in zip(names, ids, strict=True):
        assert content[name] == arena.image_bytes(block_id)
    assert prepared.total_bytes == sum(len(data) for data in content.values())
    with zipfile.ZipFile(prepared.path) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    # The display variant, never the multi-megabyte original.
    assert sorted(arena.image_requests) == sorted(f"{i}/display" for i in ids)
    assert prepared.path.parent == tmp_path
    prepared.cleanup()
    assert not prepared.path.exists()


async def test_remote_names_and_titles_never_reach_the_zip(
    fetcher: MediaFetcher, arena: FakeArena, tmp_path: Path
) -> None:
    hostile = [
        ArenaImage(
            block_id=1000 + n,
            title=title,
            thumb_url=f"{arena.base_url}/images/{1000 + n}/thumb_x.jpg",
            display_url=f"{arena.base_url}/images/{1000 + n}/display_{name}",
            original_url=f"{arena.base_url}/images/{1000 + n}/original_x.jpg",
        )
        for n, (title, name) in enumerate(
            [
                ("../../etc/passwd", "..%2f..%2fevil.jpg"),
                ("photo_mask", "photo_mask.jpg"),
                ("caption", "photo.txt"),
                ("/abs", "x.exe"),
            ]
        )
    ]
    prepared = await prepare_training_zip(fetcher, hostile, directory=tmp_path)
    assert sorted(entries(prepared.path)) == ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg"]


async def test_a_failed_download_is_skipped_and_reported(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 6)
    broken = images[1].block_id
    arena.broken_images.add(broken)

    prepared = await prepare_training_zip(fetcher, images, directory=tmp_path)

    assert prepared.image_count == 5
    assert prepared.skipped == [SkippedImage(broken, "HTTP 404")]
    assert prepared.reasons == {"HTTP 404": 1}
    assert sorted(entries(prepared.path)) == [
        "0001.jpg",
        "0003.jpg",
        "0004.jpg",
        "0005.jpg",
        "0006.jpg",
    ]


async def test_what_is_not_a_training_image_is_refused(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 7)
    html, lying, gif = (images[n].block_id for n in (0, 1, 2))
    arena.mislabelled_images.add(html)  # Content-Type: text/html
    arena.image_types[lying] = "html"  # Content-Type: image/jpeg, an HTML page inside
    arena.image_types[gif] = "gif"

    prepared = await prepare_training_zip(fetcher, images, directory=tmp_path)

    assert prepared.image_count == 4
    assert sorted(prepared.skipped, key=lambda s: s.block_id) == [
        SkippedImage(html, "not an image (text/html)"),
        SkippedImage(lying, "unsupported format (image/jpeg)"),
        SkippedImage(gif, "unsupported format (image/gif)"),
    ]
    assert sorted(entries(prepared.path)) == ["0004.jpg", "0005.jpg", "0006.jpg", "0007.jpg"]


async def test_the_per_image_cap(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 5)
    big = images[4].block_id
    arena.image_sizes[big] = 50_000
    arena.default_image_size = 1_000

    prepared = await prepare_training_zip(
        fetcher, images, max_image_bytes=10_000, directory=tmp_path
    )

    assert prepared.image_count == 4
    assert prepared.skipped == [SkippedImage(big, "too large")]


async def test_the_total_cap(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 10)
    arena.default_image_size = 1_000
    arena.image_requests.clear()

    prepared = await prepare_training_zip(
        fetcher, images, max_total_bytes=4_500, concurrency=1, directory=tmp_path
    )

    assert prepared.image_count == 4
    assert prepared.total_bytes == 4_000
    assert sum(len(d) for d in entries(prepared.path).values()) == 4_000
    assert prepared.reasons == {TOTAL_LIMIT_REASON: 6}
    # Once full, the rest are not even downloaded.
    assert len(arena.image_requests) == 5


async def test_too_few_usable_images_is_a_clear_refusal(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 5)
    arena.broken_images.update(image.block_id for image in images[:2])

    with pytest.raises(TooFewTrainingImages) as caught:
        await prepare_training_zip(fetcher, images, directory=tmp_path)

    assert caught.value.message.startswith(
        "Only 3 of the channel's 5 images could be used (skipped: 2 HTTP 404); "
        "training needs at least 4."
    )
    assert list(tmp_path.iterdir()) == []  # no zip left behind


async def test_image_hosts_outside_the_allowlist_are_never_fetched(
    session: aiohttp.ClientSession, arena: FakeArena, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 4)
    arena.image_requests.clear()
    strict = arena_image_fetcher(session)  # Are.na's hosts only: not this loopback server
    with pytest.raises(TooFewTrainingImages, match="4 host not allowed"):
        await prepare_training_zip(strict, images, directory=tmp_path)
    assert arena.image_requests == []


async def test_redirects_are_followed_only_to_allowed_hosts(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 5)
    moved, away = images[0].block_id, images[1].block_id
    arena.redirected_images[moved] = f"{arena.base_url}/moved/{moved}/display_x.jpg"
    arena.redirected_images[away] = "https://evil.example/steal.jpg"

    prepared = await prepare_training_zip(fetcher, images, directory=tmp_path)

    assert prepared.skipped == [SkippedImage(away, "redirect to a host not allowed")]
    assert entries(prepared.path)["0001.jpg"] == arena.image_bytes(moved)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_downloads_run_with_bounded_concurrency(
    session: aiohttp.ClientSession,
    arena: FakeArena,
    fetcher: MediaFetcher,
    tmp_path: Path,
    concurrency: int,
) -> None:
    images = await channel_images(session, arena, 12)
    arena.image_latency = 0.05
    prepared = await prepare_training_zip(
        fetcher, images, concurrency=concurrency, directory=tmp_path
    )
    assert prepared.image_count == 12
    assert arena.max_in_flight == concurrency


async def test_a_hanging_image_times_out_alone(
    session: aiohttp.ClientSession, arena: FakeArena, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 5)
    arena.hang_images.add(images[3].block_id)
    quick = arena_image_fetcher(session, allowed_hosts=LOOPBACK, timeout=0.3)
    prepared = await prepare_training_zip(quick, images, directory=tmp_path)
    assert prepared.skipped == [SkippedImage(images[3].block_id, "timed out")]
    assert prepared.image_count == 4


async def test_cancelling_leaves_no_file(
    session: aiohttp.ClientSession, arena: FakeArena, fetcher: MediaFetcher, tmp_path: Path
) -> None:
    images = await channel_images(session, arena, 6)
    arena.hang_images.add(images[5].block_id)
    task = asyncio.create_task(prepare_training_zip(fetcher, images, directory=tmp_path))
    while len(arena.image_requests) < 6:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the other five are written meanwhile
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(tmp_path.iterdir()) == []


# --- Upload -----------------------------------------------------------------------------------


async def test_upload_returns_the_url_and_fal_receives_the_exact_zip(
    session: aiohttp.ClientSession,
    arena: FakeArena,
    fetcher: MediaFetcher,
    storage: FakeFalStorage,
    tmp_path: Path,
) -> None:
    images = await channel_images(session, arena, 5)
    prepared = await prepare_training_zip(fetcher, images, directory=tmp_path)

    url = await upload_zip(FalStorage(FAL_KEY), prepared.path)

    stored = storage.files[url]
    assert stored.route == "v3"
    assert stored.data == prepared.path.read_bytes()
    assert stored.content_type == "application/zip"
    assert stored.name == prepared.path.name
    assert storage.token_requests == 1
    # What fal's trainer would download from that URL opens as the same archive.
    async with session.get(url) as response:
        body = await response.read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == zipfile.ZipFile(prepared.path).namelist()


async def test_a_big_zip_goes_in_parts(
    storage: FakeFalStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # fal-client switches to multipart above 100 MB; the same path, scaled down.
    monkeypatch.setattr(fal_internals, "MULTIPART_THRESHOLD", 256 * 1024)
    monkeypatch.setattr(fal_internals, "MULTIPART_CHUNK_SIZE", 100 * 1024)
    path = tmp_path / "big.zip"
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and 4 bytes: 11 parts
    path.write_bytes(data)

    url = await upload_zip(FalStorage(FAL_KEY), path)

    stored = storage.files[url]
    assert stored.route == "multipart"
    assert stored.data == data


async def test_upload_falls_back_when_the_cdn_fails(
    storage: FakeFalStorage, tmp_path: Path
) -> None:
    storage.mode.upload_status = 500
    path = tmp_path / "images.zip"
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    url = await upload_zip(FalStorage(FAL_KEY), path)
    assert storage.upload_attempts == ["v3", "gcs"]
    assert storage.files[url].data == path.read_bytes()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda m: setattr(m, "key_refused", True), "HTTP 401"),
        (
            lambda m: (setattr(m, "upload_status", 500), setattr(m, "fallback_status", 503)),
            "HTTP 503",
        ),
        (lambda m: setattr(m, "access_url_missing", True), None),
        (lambda m: setattr(m, "hang_upload", True), "no answer within 0.5 s"),
    ],
)
async def test_upload_failures_are_classified(  # type: ignore[no-untyped-def]
    storage: FakeFalStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture, setup, reason
) -> None:
    caplog.set_level(logging.DEBUG)
    setup(storage.mode)
    path = tmp_path / "images.zip"
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    if storage.mode.access_url_missing:
        storage.mode.fallback_status = 500  # the fallback fails too
    with pytest.raises(FalStorageUnavailable) as caught:
        await upload_zip(FalStorage(FAL_KEY, timeout=0.5), path)
    if reason is not None:
        assert caught.value.reason == reason
    assert caught.value.message.startswith("fal.ai's file storage isn't answering right now.")
    assert "fake-key-secret" not in caplog.text


async def test_upload_to_nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fal_internals, "REST_URL", fal_internals.REST_URL)
    monkeypatch.setattr(fal_internals, "CDN_URL", fal_internals.CDN_URL)
    configure_storage_endpoints("http://127.0.0.1:9", "http://127.0.0.1:9")
    path = tmp_path / "images.zip"
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    # fal-client retries connection errors on its fallback route for about half a minute
    # (10 tries, backoff up to 10 s): only FalStorage's own deadline ends it.
    with pytest.raises(FalStorageUnavailable) as caught:
        await upload_zip(FalStorage(FAL_KEY, timeout=1), path)
    assert caught.value.reason == "no answer within 1 s"
