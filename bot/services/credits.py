"""Training credits: what a verified payment (or an admin wallet) gives, one training each.

How `/train` spends one, so a credit pays for exactly one training and money is never
lost (`training_id` is the `lora_trainings.id` chosen before anything is submitted):

1. `await ledger.reserve_next(user_id, training_id)` (or `reserve(credit_id, …)`)
   *before* uploading to fal: a second `/train` racing this one cannot take the same
   credit. None: no credit (ask for payment).
2. Submit to fal. If fal never accepted the job: `await ledger.restore(credit_id,
   training_id=training_id)`; the credit is available again.
3. `await storage.trainings.record_submitted(db, credit_id, training)` consumes the
   credit and writes the `pending` lora_trainings row and its job in one transaction.
   It raises `storage.credits.CreditGone` (nothing written) when the credit is no longer
   reserved for this training (or available); `TrainingDesk` turns that into
   `CreditUnavailable`.
4. When the training fails: `await ledger.restore_for_training(training_id)`.

A process that dies between steps 1 and 3 leaves a reservation without a training row;
`release_stale_reservations` (run at start) makes such credits available again.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import timedelta

from bot.errors import UserFacingError
from bot.services.admin import NO_ADMINS, AdminWallets
from storage import credits as store
from storage.credits import AVAILABLE, FROM_ADMIN, Credit
from storage.db import Database
from storage.timefmt import Clock, iso, stored, utc_clock

log = logging.getLogger(__name__)

ADMIN_WALLET_NOTE = "admin wallet"
# Uploading a channel's images and submitting to fal takes well under this.
DEFAULT_RESERVATION_TIMEOUT = timedelta(minutes=30)


class CreditUnavailable(UserFacingError):
    """The credit was already used (or is being used by another /train)."""

    def __init__(
        self,
        message: str = "That training credit was already used (or another /train is using "
        "it right now). Check /wallet status for your credits.",
    ) -> None:
        super().__init__(message)


class NotAnAdminWallet(UserFacingError):
    def __init__(self, message: str = "Only admin wallets can train without paying.") -> None:
        super().__init__(message)


class CreditLedger:
    def __init__(
        self,
        db: Database,
        *,
        admins: AdminWallets = NO_ADMINS,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.admins = admins
        self.clock = clock

    def is_admin(self, wallet: str) -> bool:
        return wallet in self.admins

    async def available(self, discord_user_id: int) -> list[Credit]:
        """The user's unused credits, oldest first."""
        return await store.list_available(self.db, discord_user_id)

    async def get(self, credit_id: str) -> Credit | None:
        return await store.get(self.db, credit_id)

    async def reserve(self, credit_id: str, *, discord_user_id: int, training_id: str) -> Credit:
        """Hold this credit for `training_id`. Raises `CreditUnavailable`."""
        credit = await store.reserve(
            self.db, credit_id, training_id, discord_user_id, now=iso(self.clock())
        )
        if credit is None:
            raise CreditUnavailable()
        return credit

    async def reserve_next(self, discord_user_id: int, training_id: str) -> Credit | None:
        """Hold the user's oldest available credit for `training_id`; None if none."""
        return await store.reserve_oldest(
            self.db, discord_user_id, training_id, now=iso(self.clock())
        )

    async def restore(self, credit_id: str, *, training_id: str | None = None) -> bool:
        """Make a reserved or consumed credit available again. With `training_id`, only
        while it is still tied to that training (a late call cannot free a credit that
        already pays for another)."""
        restored = await store.restore(self.db, credit_id, training_id=training_id)
        if restored:
            log.info("training credit restored", extra={"credit_id": credit_id})
        return restored

    async def restore_for_training(self, training_id: str) -> bool:
        """Give back the credit that paid for `training_id` (the training failed or was
        cancelled). False if none was tied to it."""
        return await store.restore_for_training(self.db, training_id)

    async def admin_credit(self, discord_user_id: int, wallet: str) -> Credit:
        """A credit for a wallet in ADMIN_WALLETS (no payment). Reuses the user's unused
        admin credit, so abandoned /train attempts do not pile credits up."""
        if not self.is_admin(wallet):
            raise NotAnAdminWallet()
        return await store.open_admin_credit(
            self.db, self._new_admin_credit(discord_user_id, wallet, None)
        )

    async def grant(
        self, discord_user_id: int, wallet: str, *, reason: str, granted_by: str | None = None
    ) -> Credit:
        """An operator's credit (a payment that could not be verified automatically, a
        goodwill gesture). Always a new one; `reason` is kept in the row's note and
        `granted_by` (who gave it) beside it."""
        reason = reason.strip()
        if not reason:
            raise ValueError("a granted credit needs a reason")
        credit = replace(
            self._new_admin_credit(discord_user_id, wallet, reason), granted_by=granted_by
        )
        await store.insert(self.db, credit)
        log.info(
            "training credit granted",
            extra={"credit_id": credit.id, "granted_by": granted_by, "reason": reason},
        )
        return credit

    async def release_stale_reservations(
        self, older_than: timedelta = DEFAULT_RESERVATION_TIMEOUT
    ) -> int:
        """Credits reserved by a process that died before recording its training."""
        return await store.release_stale_reservations(
            self.db, reserved_before=iso(self.clock() - older_than)
        )

    def new_admin_credit(self, discord_user_id: int, wallet: str) -> Credit:
        """An admin wallet's credit, not yet stored: `submissions.begin` stores it (or
        reuses the user's unused one) in the transaction that reserves it."""
        return self._new_admin_credit(discord_user_id, wallet, None)

    def _new_admin_credit(self, discord_user_id: int, wallet: str, reason: str | None) -> Credit:
        return Credit(
            id=secrets.token_hex(16),
            discord_user_id=discord_user_id,
            wallet=wallet,
            source=FROM_ADMIN,
            payment_id=None,
            status=AVAILABLE,
            created_at=stored(self.clock()),
            note=reason or ADMIN_WALLET_NOTE,
        )


__all__ = [
    "Credit",
    "CreditLedger",
    "CreditUnavailable",
    "NotAnAdminWallet",
]
