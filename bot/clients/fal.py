"""fal.ai behind a small adapter: FLUX LoRA generation through fal-client's queue API,
and uploads to fal's file storage (the training zip).

fal-client reads its hosts from module constants; `configure_endpoints` and
`configure_storage_endpoints` point them at another queue or storage (a proxy, or a
local fake in tests) before any client is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fal_client
import fal_client.client as fal_internals
import httpx

from bot.errors import ServiceUnavailable, UserFacingError

log = logging.getLogger(__name__)

FLUX_LORA = "fal-ai/flux-lora"
# The web app's fixed settings (seed plan): only prompt and LoRA vary.
GENERATION_SETTINGS: dict[str, Any] = {
    "image_size": "square_hd",
    "num_inference_steps": 28,
    "guidance_scale": 3.5,
    "num_images": 4,
    "enable_safety_checker": True,
    "output_format": "jpeg",
}
LORA_SCALE = 1.5

QueueCallback = Callable[[int | None], Awaitable[None]]


class FalUnavailable(ServiceUnavailable):
    def __init__(self, reason: str) -> None:
        super().__init__(
            "The image service (fal.ai)", "Nothing was charged: press Retry in a minute."
        )
        self.reason = reason


class FalRejected(UserFacingError):
    """fal answered, and refused the request itself (bad input, unreachable LoRA file)."""


@dataclass(frozen=True, slots=True)
class FalImage:
    url: str
    width: int | None
    height: int | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class GenerationOutput:
    request_id: str
    images: tuple[FalImage, ...]
    seed: str | None
    nsfw: tuple[bool, ...]


def configure_endpoints(queue_url: str | None) -> None:
    """Send fal-client's queue calls to `queue_url` (must be set before clients exist)."""
    if queue_url:
        fal_internals.QUEUE_URL_FORMAT = queue_url.rstrip("/") + "/"


def configure_storage_endpoints(rest_url: str | None, cdn_url: str | None) -> None:
    """Send fal-client's uploads elsewhere (must be set before clients upload anything).

    `rest_url` answers `POST /storage/auth/token` (and the fallback upload route);
    `cdn_url` receives the file (`POST /files/upload`). Files over 100 MB go to the
    `base_url` the token answer names instead, in 10 MB parts."""
    if rest_url:
        fal_internals.REST_URL = rest_url.rstrip("/")
    if cdn_url:
        fal_internals.CDN_URL = cdn_url.rstrip("/")


class FalStorageUnavailable(ServiceUnavailable):
    def __init__(self, reason: str) -> None:
        super().__init__("fal.ai's file storage", "Please try again in a few minutes.")
        self.reason = reason


class FalStorage:
    """Files up to fal's CDN, for models that read their input from a URL.

    Memory: fal-client 1.0.3 does not stream. A file of up to 100 MB is read whole, and
    httpx hands it to the socket in one write, which asyncio copies into its send buffer:
    measured peak about 3x the file (an 80 MB zip: +235 MiB). A bigger file goes in 10 MB
    parts, 10 at a time, yet about 16 parts were alive at the peak (a 400 MB zip: +300
    MiB). See `bench/training_prep.py`."""

    def __init__(self, key: str, *, timeout: float = 600.0, request_timeout: float = 120.0) -> None:
        self._client = fal_client.AsyncClient(key=key, default_timeout=request_timeout)
        self.timeout = timeout

    async def upload_file(self, path: Path) -> str:
        """Upload `path` (its content type guessed from the suffix); return its URL."""
        try:
            async with asyncio.timeout(self.timeout):
                url = await self._client.upload_file(path)
        except TimeoutError:
            raise FalStorageUnavailable(f"no answer within {self.timeout:g} s") from None
        except fal_client.FalClientHTTPError as exc:
            raise self._refused(exc.status_code) from None
        except httpx.HTTPStatusError as exc:
            # The storage token request raises plain httpx errors, without retries.
            raise self._refused(exc.response.status_code) from None
        except (fal_client.FalClientError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # Transport failures, and answers that are not the JSON fal-client expects.
            raise FalStorageUnavailable(type(exc).__name__) from None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise FalStorageUnavailable("upload answered without a file URL")
        return url

    @staticmethod
    def _refused(status: int) -> FalStorageUnavailable:
        if status in (401, 403):
            log.error("fal.ai storage refused the key (HTTP %s): check FAL_KEY", status)
        return FalStorageUnavailable(f"HTTP {status}")


def generation_arguments(
    lora_url: str, prompt: str, trigger_word: str, seed: int | None = None
) -> dict[str, Any]:
    """`seed`: fal-ai/flux-lora's one seed for the whole batch (it answers the seed it
    used); the same seed with the same prompt and settings gives the same four images."""
    arguments: dict[str, Any] = {
        "prompt": f"{prompt} in the style of {trigger_word}",
        "loras": [{"path": lora_url, "scale": LORA_SCALE}],
        **GENERATION_SETTINGS,
    }
    if seed is not None:
        arguments["seed"] = seed
    return arguments


def parse_generation(request_id: str, body: Any) -> GenerationOutput:
    """Validate fal's answer; anything unexpected is an outage, not a crash."""
    if not isinstance(body, dict) or not isinstance(body.get("images"), list):
        raise FalUnavailable("malformed result: no images list")
    images: list[FalImage] = []
    for raw in body["images"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
            raise FalUnavailable("malformed result: an image without a url")
        width, height = raw.get("width"), raw.get("height")
        images.append(
            FalImage(
                url=raw["url"],
                width=width if isinstance(width, int) else None,
                height=height if isinstance(height, int) else None,
                content_type=raw.get("content_type")
                if isinstance(raw.get("content_type"), str)
                else None,
            )
        )
    seed = body.get("seed")
    nsfw_raw = body.get("has_nsfw_concepts")
    nsfw = tuple(bool(x) for x in nsfw_raw) if isinstance(nsfw_raw, list) else ()
    return GenerationOutput(
        request_id=request_id,
        images=tuple(images),
        # fal seeds can exceed 2^53: kept as text, like the web app.
        seed=str(seed) if isinstance(seed, int | str) and not isinstance(seed, bool) else None,
        nsfw=nsfw,
    )


class FalGateway:
    def __init__(
        self,
        key: str,
        *,
        poll_interval: float = 0.5,
        timeout: float = 180.0,
        request_timeout: float = 30.0,
    ) -> None:
        self._client = fal_client.AsyncClient(key=key, default_timeout=request_timeout)
        self.poll_interval = poll_interval
        self.timeout = timeout

    async def generate(
        self,
        *,
        lora_url: str,
        prompt: str,
        trigger_word: str,
        on_queue: QueueCallback | None = None,
        seed: int | None = None,
    ) -> GenerationOutput:
        arguments = generation_arguments(lora_url, prompt, trigger_word, seed)
        handle = None
        try:
            async with asyncio.timeout(self.timeout):
                handle = await self._client.submit(FLUX_LORA, arguments)
                last_position: int | None = -1
                while True:
                    status = await handle.status()
                    if isinstance(status, fal_client.Completed):
                        if status.error:
                            raise FalRejected(f"fal.ai could not generate: {status.error}")
                        break
                    position = status.position if isinstance(status, fal_client.Queued) else None
                    if on_queue is not None and position != last_position:
                        last_position = position
                        await on_queue(position)
                    await asyncio.sleep(self.poll_interval)
                body = await self._client.result(FLUX_LORA, handle.request_id)
        except TimeoutError:
            if handle is not None:
                with contextlib.suppress(Exception):
                    await self._client.cancel(FLUX_LORA, handle.request_id)
            raise FalUnavailable(f"no result within {self.timeout:g} s") from None
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 429):
                raise FalUnavailable(f"HTTP {exc.status_code}") from None
            detail = str(exc.message)[:300]
            raise FalRejected(f"fal.ai refused this request: {detail}") from None
        except (fal_client.FalClientError, httpx.HTTPError, ValueError, KeyError) as exc:
            # Transport failures, timeouts, and answers that are not the JSON we expect.
            raise FalUnavailable(type(exc).__name__) from None
        return parse_generation(handle.request_id, body)
