"""Operator tools behind `lora-bot admin`: listings, granted credits, and a training
checked with fal again. Discord-free and terminal-free: the command line (`bot/admin.py`)
parses arguments and prints what these return.

Everything here is a short statement or transaction through the same `Database`
worker the bot uses, so it is safe against the live database while bots run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_utils.address import is_address, to_checksum_address

from bot.clients.fal import FalUnavailable
from bot.clients.fal_training import FalTrainer
from bot.services.admin_audit import Auditor, AuditReport
from bot.services.credits import CreditLedger
from bot.services.training.watcher import TrainingWatcher
from storage import credits as credit_store
from storage import payments, training_listings, training_news, wallets
from storage.credits import AVAILABLE, CONSUMED, RESERVED, Credit, CreditGone
from storage.db import Database
from storage.payments import PaymentListing
from storage.timefmt import Clock, iso, utc_clock
from storage.training_listings import JobRecord, TrainingListing

log = logging.getLogger(__name__)

PAYMENT_STATES = ("verified",)  # a payment row exists only once it was verified
CREDIT_STATES = (AVAILABLE, RESERVED, CONSUMED)
TRAINING_STATES = ("pending", "completed", "failed")


class AdminRefused(Exception):
    """An operator's request that cannot be carried out, and why (said plainly)."""


@dataclass(frozen=True, slots=True)
class Filters:
    wallet: str | None = None
    discord_user_id: int | None = None
    state: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class RetryResult:
    lora_id: str
    before: str  # lora_trainings.status before the retry
    after: str  # and after it
    fal_state: str  # what fal said: queued, running, completed, failed, cancelled, unknown
    notice: str  # "told" | "queued" (the running bot tells them) | "none" (nobody to tell)
    note: str | None = None  # why nothing changed, when nothing did


def wallet_address(text: str) -> str:
    """`text` as an EIP-55 address; AdminRefused when it is not an address."""
    text = text.strip()
    if not is_address(text):
        raise AdminRefused(f"{text!r} is not an Ethereum address (0x and 40 hex digits).")
    return str(to_checksum_address(text))


class Operator:
    def __init__(
        self,
        db: Database,
        credits: CreditLedger,
        auditor: Auditor,
        *,
        trainer: FalTrainer | None,
        watcher: TrainingWatcher | None,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.credits = credits
        self.auditor = auditor
        self.trainer = trainer
        self.watcher = watcher
        self.clock = clock

    # --- listings -------------------------------------------------------------------

    async def list_payments(self, filters: Filters) -> list[PaymentListing]:
        _check_state(filters.state, PAYMENT_STATES)
        return await payments.list_recent(
            self.db,
            wallet=_wallet_filter(filters.wallet),
            discord_user_id=filters.discord_user_id,
            limit=filters.limit,
        )

    async def list_credits(self, filters: Filters) -> list[Credit]:
        _check_state(filters.state, CREDIT_STATES)
        return await credit_store.list_recent(
            self.db,
            wallet=_wallet_filter(filters.wallet),
            discord_user_id=filters.discord_user_id,
            status=filters.state,
            limit=filters.limit,
        )

    async def list_trainings(self, filters: Filters) -> list[TrainingListing]:
        _check_state(filters.state, TRAINING_STATES)
        return await training_listings.list_recent(
            self.db,
            wallet=_wallet_filter(filters.wallet),
            discord_user_id=filters.discord_user_id,
            status=filters.state,
            limit=filters.limit,
        )

    # --- grant-credit ---------------------------------------------------------------

    async def grant_credit(
        self, wallet: str, *, reason: str, granted_by: str, discord_user_id: int | None = None
    ) -> Credit:
        """A new available credit for the Discord user who linked `wallet` (or
        `discord_user_id`), recording who granted it and why."""
        address = wallet_address(wallet)
        if not reason.strip():
            raise AdminRefused('Say why the credit is granted: --reason "…".')
        if not granted_by.strip():
            raise AdminRefused("Say who grants the credit: --by NAME.")
        if discord_user_id is None:
            links = await wallets.links_of_wallet(self.db, address)
            if not links:
                raise AdminRefused(
                    f"No Discord user has linked {address} (/wallet link). Pass "
                    "--discord-user ID to grant the credit to a user anyway."
                )
            if len(links) > 1:
                users = ", ".join(str(link.discord_user_id) for link in links)
                raise AdminRefused(
                    f"Several Discord users linked {address} ({users}): pass --discord-user ID."
                )
            discord_user_id = links[0].discord_user_id
        return await self.credits.grant(
            discord_user_id, address, reason=reason.strip(), granted_by=granted_by.strip()
        )

    # --- retry ----------------------------------------------------------------------

    async def retry(self, lora_id: str) -> RetryResult:
        """Ask fal about a training the bot submitted and apply its answer (see README,
        "For operators")."""
        record = await training_listings.job_record(self.db, lora_id)
        if record is None:
            raise AdminRefused(
                f"No training the bot submitted has the id {lora_id!r} "
                "(see `lora-bot admin trainings`; web-app trainings are not the bot's)."
            )
        if self.watcher is None or self.trainer is None:
            raise AdminRefused(
                "Retrying asks fal.ai, so it needs FAL_KEY (the bot's fal key) in .env or "
                "the environment."
            )
        training, before = record.training, record.status
        try:
            if before == "pending":
                fal_state = (await self.watcher.check_now(training)).state
                note = None if fal_state != "unknown" else "fal.ai does not know this job."
            elif before == "failed":
                fal_state, note = await self._complete_failed(record)
            else:
                fal_state, note = "completed", "It is completed already: nothing to apply."
        except FalUnavailable as exc:
            raise AdminRefused(f"fal.ai did not answer ({exc}); try again later.") from None
        after = await training_listings.job_record(self.db, lora_id)
        assert after is not None
        return RetryResult(
            lora_id=lora_id,
            before=before,
            after=after.status,
            fal_state=fal_state,
            notice=await self._notice(after),
            note=note,
        )

    async def _complete_failed(self, record: JobRecord) -> tuple[str, str | None]:
        """A failed training whose fal job completed after all: completed, and paid for
        again by its credit (restored when it failed), if that credit is still free."""
        assert self.trainer is not None and self.watcher is not None
        training = record.training
        status = await self.trainer.status(training.request_id)
        if status.state != "completed":
            return status.state, f"fal says {status.state}: it stays failed."
        outcome = await self.watcher.outcome(training, status)
        if outcome.status != "completed" or outcome.weights_url is None:
            return status.state, f"fal finished it but {outcome.error}: it stays failed."
        if training.credit_id is None:
            raise AdminRefused(
                "fal completed this training, but no credit is recorded for it, so it cannot "
                "be paid for again: grant one (grant-credit) if you mean to, then retry."
            )
        try:
            await training_listings.complete_failed(
                self.db,
                training.lora_id,
                credit_id=training.credit_id,
                weights_url=outcome.weights_url,
                now=iso(self.clock()),
            )
        except CreditGone:
            credit = await credit_store.get(self.db, training.credit_id)
            where = (
                "no longer exists"
                if credit is None
                else f"is {credit.status}"
                + (f" by training {credit.training_id}" if credit.training_id else "")
            )
            raise AdminRefused(
                f"fal completed this training, but its credit {training.credit_id} (given "
                f"back when it failed) {where}, so it cannot pay for it again. It stays "
                "failed; the user keeps what that credit bought."
            ) from None
        log.warning(
            "failed training completed after all (operator retry)",
            extra={"lora_id": training.lora_id, "credit_id": training.credit_id},
        )
        return status.state, None

    async def _notice(self, record: JobRecord) -> str:
        if record.training.discord_user_id is None or record.status == "pending":
            return "none"
        if record.notified_at is not None:
            return "told"
        await training_news.clear_telling_claim(self.db, record.training.lora_id)
        return "queued"

    # --- audit ----------------------------------------------------------------------

    async def audit(self) -> AuditReport:
        return await self.auditor.run()


def _check_state(state: str | None, allowed: tuple[str, ...]) -> None:
    if state is not None and state not in allowed:
        raise AdminRefused(f"Unknown state {state!r}: one of {', '.join(allowed)}.")


def _wallet_filter(wallet: str | None) -> str | None:
    return None if wallet is None else wallet_address(wallet)


__all__ = [
    "CREDIT_STATES",
    "PAYMENT_STATES",
    "TRAINING_STATES",
    "AdminRefused",
    "Filters",
    "Operator",
    "RetryResult",
]
