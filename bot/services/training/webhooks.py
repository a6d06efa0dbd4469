"""fal's webhooks: a training that ended is finished at once, not at the next poll.

`Submitter` gives fal `{PUBLIC_BASE_URL}/fal/webhook/{order_id}` with every job. A
delivery to that URL goes through, in order:

1. **The signature** (`fal_signature.py`), before anything else is read or touched:
   unsigned, malformed, stale or forged deliveries are refused.
2. **The body**: JSON whose `request_id` is the signed one.
3. **The order**: the order in the path must exist, and the signed request id must be
   the one recorded for it. An order with no request id recorded is one whose process
   died between fal's answer and the `accept` transaction: its training is recorded now
   (`submissions.accept_late`), paid by the order's credit if that is still usable.
4. **The training** is then checked at once through the watcher (`check_now`, in the
   background, so fal gets its 200 quickly): fal's own status and result decide, as for
   a poll, so `status: "OK"` completes it with the weights fal reports and `"ERROR"`
   fails it and gives its credit back in the same transaction. The webhook's payload is
   not used as the result: it would be a second, less tested road to the same row, and
   the watcher's road already handles cancellations, missing weights and a user told
   exactly once.

Deliveries repeat (fal retries for two hours): a delivery for a training that is
already finished or already being checked changes nothing and is answered 200.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.errors import ServiceUnavailable
from bot.services.inflight import InFlight, ShuttingDown
from bot.services.training.fal_signature import SignatureRefused, WebhookSignatures
from bot.services.training.watcher import TrainingWatcher
from storage import submissions, trainings
from storage.db import Database, DatabaseError
from storage.ids import web_app_id
from storage.submissions import NotRecoverable, OrderBusy
from storage.timefmt import Clock, iso, utc_clock
from storage.trainings import WatchedTraining

log = logging.getLogger(__name__)

RefusalKind = Literal["unsigned", "bad_body", "unknown_order", "wrong_order", "busy"]


class WebhookRefused(Exception):
    """A delivery that changes nothing. `kind` says how to answer; `reason` is for the
    log (never the body)."""

    def __init__(self, kind: RefusalKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WebhookAccepted:
    # "checking": the training is being checked now; "recovered": a lost submission was
    # recorded from it (and is being checked); "done": it was finished already.
    outcome: Literal["checking", "recovered", "done"]
    lora_id: str | None


def webhook_path(order_id: str) -> str:
    return f"/fal/webhook/{order_id}"


class TrainingWebhooks:
    def __init__(
        self,
        db: Database,
        signatures: WebhookSignatures,
        watcher: TrainingWatcher,
        *,
        inflight: InFlight,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.signatures = signatures
        self.watcher = watcher
        self.inflight = inflight
        self.clock = clock
        self._checks: dict[str, asyncio.Task[None]] = {}

    async def receive(
        self, order_id: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookAccepted:
        """Handle one delivery. Raises `WebhookRefused`, or `ServiceUnavailable` /
        `DatabaseError` (fal retries; nothing was changed)."""
        try:
            signed = await self.signatures.verify(headers, body)
        except SignatureRefused as refused:
            raise WebhookRefused("unsigned", str(refused)) from None
        request_id = signed.request_id
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise WebhookRefused("bad_body", "body is not JSON") from None
        if not isinstance(document, dict) or document.get("request_id") != request_id:
            raise WebhookRefused("bad_body", "body's request_id is not the signed one")
        status = document.get("status")
        order = await submissions.webhook_order(self.db, order_id)
        if order is None:
            raise WebhookRefused("unknown_order", "no such order")
        if order.request_id is not None and order.request_id != request_id:
            raise WebhookRefused("wrong_order", "signed request id is not the order's")
        outcome: Literal["checking", "recovered", "done"] = "checking"
        if order.request_id is None:
            try:
                late = await submissions.accept_late(
                    self.db,
                    order_id,
                    request_id,
                    iso(self.clock()),
                    new_lora_id=web_app_id(),
                )
            except OrderBusy:
                raise WebhookRefused("busy", "the submission is still in progress") from None
            except NotRecoverable as why:
                raise WebhookRefused("wrong_order", f"not recoverable: {why}") from None
            if late.recorded:
                outcome = "recovered"
                log.warning(
                    "lost training submission recorded from fal's webhook",
                    extra={
                        "order_id": order_id,
                        "lora_id": late.lora_id,
                        "request_id": request_id,
                        "credit_id": late.credit_id,
                        "reason": late.note,
                    },
                )
        found = await trainings.by_request(self.db, request_id)
        if found is None:
            raise WebhookRefused("wrong_order", "no training recorded for this request")
        training, row_status = found
        log.info(
            "fal webhook",
            extra={
                "order_id": order_id,
                "lora_id": training.lora_id,
                "request_id": request_id,
                "status": str(status)[:20],
            },
        )
        if row_status != "pending":
            return WebhookAccepted("done", training.lora_id)
        self._check_soon(training)
        return WebhookAccepted(outcome, training.lora_id)

    def _check_soon(self, training: WatchedTraining) -> None:
        """fal's answer decides (`check_now`), after the 200: a repeated delivery while a
        check is running adds nothing."""
        running = self._checks.get(training.lora_id)
        if running is not None and not running.done():
            return
        task = asyncio.create_task(self._check(training), name="fal webhook check")
        self._checks[training.lora_id] = task
        task.add_done_callback(lambda done: self._forget(training.lora_id, done))

    def _forget(self, lora_id: str, task: asyncio.Task[None]) -> None:
        if self._checks.get(lora_id) is task:
            del self._checks[lora_id]

    async def _check(self, training: WatchedTraining) -> None:
        try:
            async with self.inflight.hold("fal webhook check"):
                await self.watcher.check_now(training)
        except ShuttingDown:
            pass  # the next process's watcher polls it
        except (ServiceUnavailable, DatabaseError) as exc:
            log.warning(
                "webhook check failed; the watcher's poll will finish it",
                extra={"lora_id": training.lora_id, "reason": str(exc)},
            )
        except Exception:
            log.exception("webhook check failed", extra={"lora_id": training.lora_id})

    async def settle(self) -> None:
        """Wait for the checks started so far (tests, shutdown)."""
        pending = [t for t in self._checks.values() if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
