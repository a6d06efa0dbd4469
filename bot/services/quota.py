"""`QuotaLedger`: 8 image batches per wallet per rolling 24 hours, exactly, shared with
the web app.

A wallet's use is its bot batches that count (completed, or reserved and fresh) plus the
web app's images of the window divided by 4, rounded down (the web app refuses at
`images / 4 >= 8`, which for a whole limit is the same as `floor(images / 4) >= 8`).
Reserve before calling fal (one conditional write), complete with the images, or
release on failure. Admin wallets are exempt but still recorded.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import Moment, Part, UserFacingError
from bot.services.admin import NO_ADMINS, AdminWallets
from storage import generation_batches
from storage.db import Database
from storage.generation_batches import IMAGES_PER_WEB_BATCH, NewImage, Used
from storage.timefmt import Clock, iso, parse_time, read_time, utc_clock

DEFAULT_LIMIT = 8
DEFAULT_WINDOW = timedelta(hours=24)
# A generation takes seconds; a reservation older than this belongs to a dead process.
DEFAULT_RESERVATION_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limit: int
    used: int
    exempt: bool
    next_free_at: datetime | None
    # When one used slot comes back (the oldest use leaves the window); None if none used.
    next_return_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def describe(self) -> str:
        if self.exempt:
            return "unlimited (admin wallet)"
        return f"{self.remaining} of {self.limit} left today"


class QuotaExceeded(UserFacingError):
    def __init__(self, status: QuotaStatus) -> None:
        when: tuple[Part, ...] = (
            (" The next one frees up ", Moment(status.next_free_at, "relative"), ".")
            if status.next_free_at
            else ()
        )
        super().__init__(
            f"You have used all {status.limit} generations of the last 24 hours for this wallet.",
            *when,
        )
        self.status = status


@dataclass(frozen=True, slots=True)
class Reservation:
    batch_id: str
    wallet: str
    lora_id: str
    prompt: str


class QuotaLedger:
    def __init__(
        self,
        db: Database,
        *,
        limit: int = DEFAULT_LIMIT,
        window: timedelta = DEFAULT_WINDOW,
        reservation_timeout: timedelta = DEFAULT_RESERVATION_TIMEOUT,
        admins: AdminWallets = NO_ADMINS,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        self.limit = limit
        self.window = window
        self.reservation_timeout = reservation_timeout
        self.admins = admins
        self.clock = clock

    def is_exempt(self, wallet: str) -> bool:
        return wallet in self.admins

    def _bounds(self) -> tuple[datetime, str, str]:
        now = self.clock()
        return now, iso(now - self.window), iso(now - self.reservation_timeout)

    def window_bounds(self) -> tuple[str, str]:
        """(window start, fresh-after) as stored times: what `storage` reads `Used` with."""
        _, window_start, fresh_after = self._bounds()
        return window_start, fresh_after

    async def status(self, wallet: str) -> QuotaStatus:
        window_start, fresh_after = self.window_bounds()
        seen = await generation_batches.used(
            self.db, wallet, window_start=window_start, fresh_after=fresh_after, limit=self.limit
        )
        return self.status_of(wallet, seen)

    def status_of(self, wallet: str, seen: Used) -> QuotaStatus:
        """The status from what was read (by `status`, or with other things in one trip)."""
        used = min(self.limit, _slots(len(seen.batches), len(seen.web_images)))
        next_return = self._next_free(seen, below=used) if used else None
        next_free = next_return if used >= self.limit else None
        return QuotaStatus(self.limit, used, self.is_exempt(wallet), next_free, next_return)

    def _next_free(self, seen: Used, *, below: int) -> datetime | None:
        """When the use first drops below `below` (the limit: a slot frees): things leave the window oldest first,
        a bot batch or a web-app image `window` after it was made. `seen` holds only the
        newest `limit` batches and 4 x `limit` images, which is exact: while more than
        that count, the wallet is full either way."""
        leaving = sorted(
            [(parse_time(t) + self.window, True) for t in seen.batches]
            + [
                (moment + self.window, False)
                for moment in map(read_time, seen.web_images)
                if moment is not None
            ]
        )
        batches, images = len(seen.batches), len(seen.web_images)
        for moment, is_batch in leaving:
            if is_batch:
                batches -= 1
            else:
                images -= 1
            if _slots(batches, images) < below:
                return moment
        return None

    async def reserve(self, wallet: str, *, user_id: int, lora_id: str, prompt: str) -> Reservation:
        now, window_start, fresh_after = self._bounds()
        batch_id = secrets.token_hex(16)
        limit = None if self.is_exempt(wallet) else self.limit
        reserved = await generation_batches.reserve(
            self.db,
            batch_id=batch_id,
            wallet=wallet,
            user_id=user_id,
            lora_id=lora_id,
            prompt=prompt,
            now=iso(now),
            window_start=window_start,
            fresh_after=fresh_after,
            limit=limit,
        )
        if not reserved:
            raise QuotaExceeded(await self.status(wallet))
        return Reservation(batch_id, wallet, lora_id, prompt)

    async def complete(self, reservation: Reservation, images: list[NewImage]) -> bool:
        return await generation_batches.complete(
            self.db,
            batch_id=reservation.batch_id,
            lora_id=reservation.lora_id,
            wallet=reservation.wallet,
            prompt=reservation.prompt,
            images=images,
            now=iso(self.clock()),
        )

    async def release(self, reservation: Reservation) -> bool:
        return await generation_batches.release(
            self.db, reservation.batch_id, now=iso(self.clock())
        )

    async def release_stale(self) -> int:
        now = self.clock()
        return await generation_batches.release_stale(
            self.db, reserved_before=iso(now - self.reservation_timeout), now=iso(now)
        )


def _slots(batches: int, web_images: int) -> int:
    """The web app's images count as it counts them: a batch per 4, rounded down."""
    return batches + web_images // IMAGES_PER_WEB_BATCH
