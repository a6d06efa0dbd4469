"""fal.ai LoRA training (`fal-ai/flux-lora-fast-training`) behind a small adapter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import fal_client
import httpx

from bot.clients.fal import FalRejected, FalUnavailable

FAST_TRAINING = "fal-ai/flux-lora-fast-training"
# fal's trainer logs tqdm-style lines such as
# "  45%|████▌     | 450/1000 [01:02<01:15, 7.2it/s]": steps done/total, then
# [elapsed<remaining, rate] (remaining is "?" before tqdm can estimate it).
_STEPS = re.compile(r"(\d+)\s*/\s*(\d+)")
_TIMES = re.compile(r"\[\s*([\d:]+|\?)\s*<\s*([\d:]+|\?)")


@dataclass(frozen=True, slots=True)
class TrainingStatus:
    # "queued" | "running" | "completed" | "failed" | "cancelled" (fal confirmed an owner's
    # cancellation) | "unknown" (fal does not know the request: no verdict)
    state: str
    queue_position: int | None = None
    steps_done: int | None = None
    steps_total: int | None = None
    error: str | None = None
    eta_seconds: int | None = None  # tqdm's estimate of the time left, when it has one


@dataclass(frozen=True, slots=True)
class LogProgress:
    steps_done: int | None = None
    steps_total: int | None = None
    eta_seconds: int | None = None


def _clock_seconds(text: str) -> int | None:
    """tqdm's "MM:SS" or "H:MM:SS" (None for "?")."""
    if not re.fullmatch(r"\d+(:\d{1,2}){1,2}", text):
        return None
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def read_progress(logs: list[dict[str, Any]] | None) -> LogProgress:
    """Steps done/total and the time left from the newest tqdm line in fal's logs (the
    time left only from that same line: an older estimate is stale)."""
    for entry in reversed(logs or []):
        message = entry.get("message") if isinstance(entry, dict) else None
        if not isinstance(message, str):
            continue
        for match in reversed(list(_STEPS.finditer(message))):
            done, total = int(match[1]), int(match[2])
            if 0 < total <= 100_000 and 0 <= done <= total:
                times = _TIMES.search(message, match.end())
                eta = _clock_seconds(times[2]) if times else None
                return LogProgress(done, total, eta)
    return LogProgress()


def progress_from_logs(logs: list[dict[str, Any]] | None) -> tuple[int | None, int | None]:
    """The latest `done/total` step count in fal's logs, if any."""
    progress = read_progress(logs)
    return progress.steps_done, progress.steps_total


def weights_url_of(result: Any) -> str | None:
    """`diffusers_lora_file.url` from a training result (None if absent or malformed)."""
    if not isinstance(result, dict):
        return None
    lora_file = result.get("diffusers_lora_file")
    url = lora_file.get("url") if isinstance(lora_file, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


class FalTrainer:
    def __init__(self, key: str, *, request_timeout: float = 30.0) -> None:
        self._client = fal_client.AsyncClient(key=key, default_timeout=request_timeout)

    async def submit(
        self,
        *,
        images_data_url: str,
        trigger_word: str,
        steps: int,
        webhook_url: str | None = None,
    ) -> str:
        arguments = {
            "images_data_url": images_data_url,
            "trigger_word": trigger_word,
            "steps": steps,
        }
        try:
            handle = await self._client.submit(FAST_TRAINING, arguments, webhook_url=webhook_url)
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 429):
                raise FalUnavailable(f"HTTP {exc.status_code}") from None
            raise FalRejected(f"fal.ai refused the training: {str(exc.message)[:300]}") from None
        except (fal_client.FalClientError, httpx.HTTPError, ValueError, KeyError) as exc:
            raise FalUnavailable(type(exc).__name__) from None
        return str(handle.request_id)

    async def status(self, request_id: str) -> TrainingStatus:
        try:
            status = await self._client.status(FAST_TRAINING, request_id, with_logs=True)
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code == 404:
                # Not this account's job (a web-app row, another fal key) or gone: that
                # is no verdict on the training, so it must not be failed for it.
                return TrainingStatus("unknown")
            raise FalUnavailable(f"HTTP {exc.status_code}") from None
        except (fal_client.FalClientError, httpx.HTTPError, ValueError, KeyError) as exc:
            raise FalUnavailable(type(exc).__name__) from None
        if isinstance(status, fal_client.Queued):
            return TrainingStatus("queued", queue_position=status.position)
        logs = (
            status.logs
            if isinstance(status, fal_client.InProgress | fal_client.Completed)
            else None
        )
        progress = read_progress(logs)
        done, total = progress.steps_done, progress.steps_total
        if isinstance(status, fal_client.Completed):
            if status.error and "cancel" in str(status.error_type or status.error).lower():
                return TrainingStatus("cancelled", error=str(status.error)[:500])
            if status.error:
                return TrainingStatus("failed", error=str(status.error)[:500])
            return TrainingStatus("completed", steps_done=done, steps_total=total)
        return TrainingStatus(
            "running", steps_done=done, steps_total=total, eta_seconds=progress.eta_seconds
        )

    async def weights_url(self, request_id: str) -> str | None:
        try:
            result = await self._client.result(FAST_TRAINING, request_id)
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code >= 500:
                raise FalUnavailable(f"HTTP {exc.status_code}") from None
            return None
        except (fal_client.FalClientError, httpx.HTTPError, ValueError, KeyError) as exc:
            raise FalUnavailable(type(exc).__name__) from None
        return weights_url_of(result)

    async def cancel(self, request_id: str) -> bool:
        """True if fal accepted the cancellation (only possible while queued)."""
        try:
            await self._client.cancel(FAST_TRAINING, request_id)
        except fal_client.FalClientHTTPError as exc:
            if exc.status_code >= 500:
                raise FalUnavailable(f"HTTP {exc.status_code}") from None
            return False
        except (fal_client.FalClientError, httpx.HTTPError) as exc:
            raise FalUnavailable(type(exc).__name__) from None
        return True
