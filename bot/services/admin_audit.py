"""The money invariant, checked on the live database (`lora-bot admin audit`).

Every verified payment ends as a completed or failed training or a usable credit, and
no credit pays twice. A payment of part of a quote waits for its top-up while the quote
holds; after that it is listed here, for an operator to grant a credit or refund it. Each rule below is a few read-only queries (`storage.audit`); an
offender names the rows involved and what is wrong with them, so an operator can look
them up with `lora-bot admin credits/payments/trainings`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from storage import audit
from storage.audit import Counts, Finding
from storage.db import Database
from storage.timefmt import Clock, iso, utc_clock

# Credits reserved with no order at all are released after this (`release_stale`).
ORPHAN_RESERVATION_TIMEOUT = timedelta(minutes=30)

RULES = {
    1: "every verified payment ends as a training or a usable credit",
    2: "no credit is spent twice",
    3: "every bot training is paid by a payment or an admin's credit",
    4: "no reservation outlives its timeout",
    5: "submitted orders and bot trainings match",
}


@dataclass(frozen=True, slots=True)
class Offense:
    rule: int
    problem: str  # one short phrase: "consumed credit without its training"
    finding: Finding

    def describe(self) -> str:
        f = self.finding
        named = [
            f"{label} {value}"
            for label, value in (
                ("payment", f.payment_id),
                ("credit", f.credit_id),
                ("training", f.training_id),
                ("order", f.order_id),
            )
            if value
        ]
        extra = [f"status {f.status}"] if f.status else []
        if f.since:
            extra.append(f"since {f.since}")
        if f.detail:
            extra.append(f.detail)
        return f"rule {self.rule}: {self.problem}: " + ", ".join(named + extra)


@dataclass(frozen=True, slots=True)
class AuditReport:
    counts: Counts
    offenses: tuple[Offense, ...]
    checked_at: str

    @property
    def ok(self) -> bool:
        return not self.offenses


class Auditor:
    def __init__(
        self,
        db: Database,
        *,
        lease: timedelta,
        recovery_interval: timedelta,
        orphan_timeout: timedelta = ORPHAN_RESERVATION_TIMEOUT,
        clock: Clock = utc_clock,
    ) -> None:
        self.db = db
        # A submitting order's credit is stranded once its lease ran out and a recovery
        # pass (every `recovery_interval` in each bot) had the time to roll it back.
        self.stranded_after = lease + recovery_interval
        self.orphan_timeout = orphan_timeout
        self.clock = clock

    async def run(self) -> AuditReport:
        now = self.clock()
        db = self.db
        stranded_before = iso(now - self.stranded_after)
        orphaned_before = iso(now - self.orphan_timeout)
        checks: list[tuple[int, str, Callable[[], Awaitable[list[Finding]]]]] = [
            (1, "verified payment without a credit", lambda: audit.payments_without_credit(db)),
            (
                1,
                "part of a payment never topped up before its quote expired (grant a credit "
                "or refund it)",
                lambda: audit.open_parts_past_expiry(db, now=iso(now)),
            ),
            (
                1,
                "consumed credit without its training",
                lambda: audit.consumed_without_training(db),
            ),
            (
                1,
                "stranded reservation (its order's lease ran out and recovery did not "
                "roll it back)",
                lambda: audit.stranded_reservations(db, lease_ended_before=stranded_before),
            ),
            (
                2,
                "credit named by several trainings",
                lambda: audit.credits_of_several_trainings(db),
            ),
            (
                2,
                "credit spent on a training whose job names another credit (in detail)",
                lambda: audit.credits_naming_another_job(db),
            ),
            (
                2,
                "pending or completed training whose credit is usable again",
                lambda: audit.live_trainings_with_unspent_credit(db),
            ),
            (3, "bot training without a valid credit", lambda: audit.trainings_without_credit(db)),
            (
                4,
                f"reservation held by no order for over "
                f"{int(self.orphan_timeout.total_seconds() // 60)} minutes",
                lambda: audit.orphan_reservations(db, reserved_before=orphaned_before),
            ),
            (
                5,
                "submitted order without its training",
                lambda: audit.submitted_orders_without_training(db),
            ),
        ]
        offenses: list[Offense] = []
        for rule, problem, check in checks:
            offenses.extend(Offense(rule, problem, f) for f in await check())
        since = await audit.durable_since(db)
        if since is not None:
            offenses.extend(
                Offense(5, "bot training without an order", f)
                for f in await audit.jobs_without_order(db, created_since=since)
            )
        return AuditReport(await audit.counts(db), tuple(offenses), iso(now))


__all__ = ["RULES", "AuditReport", "Auditor", "Offense"]
