"""A local stand-in for fal's `fal-ai/flux-lora-fast-training` queue, over real HTTP.

Each submitted training walks through `script` one status poll at a time (queued with
positions, then in progress with tqdm-like step logs), then completes or fails; or it
ends at once when a test calls `complete()`. Like fal, it reads a submission's webhook
URL from the `fal_webhook` query parameter (what fal-client's `submit(webhook_url=...)`
sends), and when a training ends through `complete()` it POSTs a webhook signed with its
test key (`signer`), whose public key it serves as a JWKS at `jwks_url`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.fal_webhooks import WebhookSigner, post, webhook_body
from tests.fakes.gates import Gates

APP = "fal-ai/flux-lora-fast-training"


def default_script() -> list[dict[str, Any]]:
    return [
        {"status": "IN_QUEUE", "queue_position": 2},
        {"status": "IN_QUEUE", "queue_position": 0},
        {"status": "IN_PROGRESS", "logs": step_logs(100, 1000, elapsed=5, left=45)},
        {"status": "IN_PROGRESS", "logs": step_logs(500, 1000, elapsed=25, left=25)},
    ]


def step_logs(done: int, total: int, *, elapsed: int, left: int | None) -> list[dict[str, Any]]:
    """fal's log lines while training: a setup line, then tqdm's progress bar with
    [elapsed<left, rate] ("?" while tqdm has no estimate yet)."""
    percent = done * 100 // total
    bar = ("█" * (percent // 10)).ljust(10)

    def clock(seconds: int) -> str:
        return f"{seconds // 60:02d}:{seconds % 60:02d}"

    rate = f"{done / elapsed:.2f}it/s" if elapsed else "?it/s"
    eta = clock(left) if left is not None else "?"
    return [
        {"message": "Preparing the dataset", "level": "INFO"},
        {
            "message": f"{percent:3d}%|{bar}| {done}/{total} [{clock(elapsed)}<{eta}, {rate}]",
            "level": "INFO",
        },
    ]


@dataclass
class Training:
    request_id: str
    arguments: dict[str, Any]
    polls: int = 0
    cancelled: bool = False
    webhook_url: str | None = None  # from `?fal_webhook=` on submit
    done: bool = False  # ended (complete()): the status says COMPLETED from now on


@dataclass
class TrainingMode:
    script: list[dict[str, Any]] = field(default_factory=default_script)
    error: str | None = None  # the job fails with this at the end
    submit_status: int = 200
    status_status: int = 200  # e.g. 500 while fal is down
    no_weights: bool = False


class FakeFalTraining:
    def __init__(self) -> None:
        self.mode = TrainingMode()
        self.trainings: dict[str, Training] = {}
        # "submit" (before fal takes the job), "submit:answer" (taken, answer held),
        # "status", "result": see tests/fakes/gates.py.
        self.gates = Gates()
        self.signer = WebhookSigner()
        self.jwks_keys: list[WebhookSigner] = [self.signer]  # what the JWKS publishes
        self.jwks_fetches = 0
        self.deliveries: list[tuple[str, int]] = []  # (request id, the bot's answer)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    async def start(self) -> FakeFalTraining:
        app = web.Application()
        prefix = f"/{APP}"
        app.router.add_post(prefix, self._submit)
        app.router.add_get(prefix + "/requests/{rid}/status", self._status)
        app.router.add_get(prefix + "/requests/{rid}", self._result)
        app.router.add_put(prefix + "/requests/{rid}/cancel", self._cancel)
        app.router.add_get("/.well-known/jwks.json", self._jwks)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self.gates.release_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def add(
        self,
        request_id: str | None = None,
        arguments: dict[str, Any] | None = None,
        webhook_url: str | None = None,
    ) -> str:
        """A training fal already accepted (e.g. submitted before a restart)."""
        rid = request_id or secrets.token_hex(8)
        self.trainings[rid] = Training(rid, arguments or {}, webhook_url=webhook_url)
        return rid

    def result(self, rid: str) -> dict[str, Any]:
        return {
            "diffusers_lora_file": {
                "url": f"https://v3.fal.media/files/fake/{rid}/pytorch_lora_weights.safetensors",
                "content_type": "application/octet-stream",
                "file_name": "pytorch_lora_weights.safetensors",
                "file_size": 89_745_224,
            },
            "config_file": {"url": f"https://v3.fal.media/files/fake/{rid}/config.json"},
        }

    def webhook(self, rid: str, *, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """The signed delivery fal makes when this training has ended."""
        error = self.mode.error
        body = webhook_body(rid, error=error, payload=None if error else self.result(rid))
        return self.signer.headers(rid, body, timestamp=timestamp), body

    async def complete(self, rid: str) -> int | None:
        """The training ends now (with `mode.error`, it fails) and fal delivers its
        webhook, if it was given one. Returns the bot's HTTP answer."""
        training = self.trainings[rid]
        training.done = True
        return await self.deliver(rid)

    async def deliver(self, rid: str) -> int | None:
        """(Re)deliver the signed webhook of an ended training, as fal's retries do."""
        url = self.trainings[rid].webhook_url
        if url is None:
            return None
        status = await post(url, *self.webhook(rid))
        self.deliveries.append((rid, status))
        return status

    async def _submit(self, request: web.Request) -> web.Response:
        await self.gates.at("submit")
        if self.mode.submit_status != 200:
            return web.json_response({"detail": "fake failure"}, status=self.mode.submit_status)
        rid = self.add(arguments=await request.json(), webhook_url=request.query.get("fal_webhook"))
        await self.gates.at("submit:answer")
        base = f"{self.base_url}/{APP}/requests/{rid}"
        return web.json_response(
            {
                "request_id": rid,
                "status_url": f"{base}/status",
                "response_url": base,
                "cancel_url": f"{base}/cancel",
            }
        )

    async def _status(self, request: web.Request) -> web.Response:
        await self.gates.at("status")
        if self.mode.status_status != 200:
            return web.json_response({"detail": "down"}, status=self.mode.status_status)
        training = self.trainings.get(request.match_info["rid"])
        if training is None:
            return web.json_response({"detail": "not found"}, status=404)
        if training.cancelled:
            return web.json_response(
                {"status": "COMPLETED", "logs": [], "error": "cancelled", "error_type": "cancelled"}
            )
        training.polls += 1
        script = self.mode.script
        if training.polls <= len(script) and not training.done:
            return web.json_response({"logs": [], **script[training.polls - 1]})
        body: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": [{"message": "100%|██████████| 1000/1000 [00:50<00:00]"}],
            "metrics": {},
        }
        if self.mode.error:
            body["error"] = self.mode.error
        return web.json_response(body)

    async def _result(self, request: web.Request) -> web.Response:
        await self.gates.at("result")
        rid = request.match_info["rid"]
        if rid not in self.trainings:
            return web.json_response({"detail": "not found"}, status=404)
        if self.mode.no_weights:
            return web.json_response({"config_file": {"url": f"{self.base_url}/files/{rid}.json"}})
        return web.json_response(self.result(rid))

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response({"keys": [signer.jwk() for signer in self.jwks_keys]})

    async def _cancel(self, request: web.Request) -> web.Response:
        training = self.trainings.get(request.match_info["rid"])
        if training is None:
            return web.json_response({"detail": "not found"}, status=404)
        queued = (
            training.polls < len(self.mode.script)
            and self.mode.script[training.polls].get("status") == "IN_QUEUE"
        )
        if not queued:
            return web.json_response({"detail": "already started"}, status=400)
        training.cancelled = True
        return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)
