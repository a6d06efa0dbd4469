"""`StandingDesk`: where a Discord user stands (wallet, credits, LoRAs, images, quota),
for `/help`'s three steps and `/wallet status`, from one database round trip."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.quota import QuotaLedger, QuotaStatus
from storage import standing as store
from storage.db import Database
from storage.wallets import WalletLink


@dataclass(frozen=True, slots=True)
class Standing:
    link: WalletLink | None
    unused_credits: int
    has_finished_lora: bool
    has_generated: bool
    quota: QuotaStatus | None  # None without a wallet

    @property
    def can_generate(self) -> bool:
        """Step 2 is done: a LoRA of their own to use, or a paid training waiting."""
        return self.has_finished_lora or self.unused_credits > 0


class StandingDesk:
    def __init__(self, db: Database, quota: QuotaLedger) -> None:
        self.db = db
        self.quota = quota

    async def of(self, discord_user_id: int) -> Standing:
        window_start, fresh_after = self.quota.window_bounds()
        found = await store.standing(
            self.db,
            discord_user_id,
            window_start=window_start,
            fresh_after=fresh_after,
            limit=self.quota.limit,
        )
        quota = None
        if found.link is not None and found.used is not None:
            quota = self.quota.status_of(found.link.wallet_address, found.used)
        return Standing(
            found.link, found.unused_credits, found.has_finished_lora, found.has_generated, quota
        )
