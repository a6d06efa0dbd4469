"""Read-only checks of the money invariant, for `lora-bot admin audit`.

Every function here is one SELECT (so each sees one consistent state of a live
database, and none takes a write lock) and returns the rows at fault as `Finding`s;
the rules that name and explain them are `bot.services.admin_audit`'s. Times compared
here are the stored ISO text (`storage.timefmt`), whose order is time order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from storage.db import Database
from storage.timefmt import iso, read_time


@dataclass(frozen=True, slots=True)
class Counts:
    payments: int
    credits: int
    trainings: int  # training_jobs: the trainings the bot submitted


@dataclass(frozen=True, slots=True)
class Finding:
    """One row that breaks a check; the ids of everything involved that is known."""

    payment_id: str | None = None
    credit_id: str | None = None
    training_id: str | None = None
    order_id: str | None = None
    status: str | None = None  # the credit's (or training's) status
    since: str | None = None  # when the faulty state began (reserved_at, lease end, …)
    detail: str | None = None  # e.g. the other trainings or credits involved


def _finding(row: dict[str, Any]) -> Finding:
    return Finding(**{f.name: row.get(f.name) for f in fields(Finding)})


async def counts(db: Database) -> Counts:
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM payments) AS payments, "
        "(SELECT COUNT(*) FROM training_credits) AS credits, "
        "(SELECT COUNT(*) FROM training_jobs) AS trainings"
    )
    assert row is not None
    return Counts(int(row["payments"]), int(row["credits"]), int(row["trainings"]))


async def _findings(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[Finding]:
    return [_finding(r) for r in await db.fetchall(sql, params)]


async def payments_without_credit(db: Database) -> list[Finding]:
    """Verified payments marked as spent on a credit that does not exist. (A payment
    with no credit at all is an open part of its quote: `open_parts_past_expiry`.)"""
    return await _findings(
        db,
        "SELECT p.id AS payment_id, p.credit_id, p.verified_at AS since FROM payments p "
        "WHERE p.credit_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM training_credits c WHERE c.id = p.credit_id) "
        "ORDER BY p.verified_at",
    )


async def open_parts_past_expiry(db: Database, *, now: str) -> list[Finding]:
    """Parts of a payment (less than the quote, `storage.payments`) whose quote expired
    before the rest arrived: money received that bought nothing."""
    return await _findings(
        db,
        "SELECT p.id AS payment_id, p.verified_at AS since, "
        "'paid ' || p.value_wei || ' wei of a ' || q.wei || ' wei quote that expired at ' "
        "|| q.expires_at || ', tx ' || p.tx_hash AS detail "
        "FROM payments p JOIN payment_quotes q ON q.id = p.quote_id "
        "WHERE p.credit_id IS NULL AND q.expires_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM training_credits c WHERE c.payment_id = p.id) "
        "ORDER BY p.verified_at",
        (now,),
    )


async def consumed_without_training(db: Database) -> list[Finding]:
    """Credits spent on a training that has no `lora_trainings` row."""
    return await _findings(
        db,
        "SELECT c.id AS credit_id, c.payment_id, c.training_id, c.status, "
        "c.consumed_at AS since FROM training_credits c WHERE c.status = 'consumed' "
        "AND (c.training_id IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM lora_trainings t WHERE t.id = c.training_id)) "
        "ORDER BY c.consumed_at",
    )


async def stranded_reservations(db: Database, *, lease_ended_before: str) -> list[Finding]:
    """Credits reserved by a submitting order whose lease ended before
    `lease_ended_before` (the lease plus the recovery interval ago): no live process
    holds them and recovery did not roll them back. An order from before migration
    0009 has no lease: its credit's reservation time stands in for it."""
    return await _findings(
        db,
        "SELECT c.id AS credit_id, c.payment_id, c.training_id, c.status, o.id AS order_id, "
        "COALESCE(o.lease_expires_at, c.reserved_at) AS since "
        "FROM training_credits c JOIN training_orders o ON o.credit_id = c.id "
        "AND o.status = 'submitting' WHERE c.status = 'reserved' "
        "AND COALESCE(o.lease_expires_at, c.reserved_at, c.created_at) < ? "
        "ORDER BY since",
        (lease_ended_before,),
    )


async def orphan_reservations(db: Database, *, reserved_before: str) -> list[Finding]:
    """Credits reserved since before `reserved_before` that no submitting order holds."""
    return await _findings(
        db,
        "SELECT c.id AS credit_id, c.payment_id, c.training_id, c.status, "
        "COALESCE(c.reserved_at, c.created_at) AS since FROM training_credits c "
        "WHERE c.status = 'reserved' AND NOT EXISTS (SELECT 1 FROM training_orders o "
        "WHERE o.credit_id = c.id AND o.status = 'submitting') "
        "AND COALESCE(c.reserved_at, c.created_at) < ? ORDER BY since",
        (reserved_before,),
    )


async def credits_of_several_trainings(db: Database) -> list[Finding]:
    """One credit named by the jobs of several trainings that did not fail (a failed
    training gave its credit back, so a later one may name it again)."""
    return await _findings(
        db,
        "SELECT j.credit_id, GROUP_CONCAT(j.lora_training_id, ', ') AS detail "
        "FROM training_jobs j JOIN lora_trainings t ON t.id = j.lora_training_id "
        "WHERE j.credit_id IS NOT NULL AND t.status != 'failed' "
        "GROUP BY j.credit_id HAVING COUNT(*) > 1 ORDER BY j.credit_id",
    )


async def credits_naming_another_job(db: Database) -> list[Finding]:
    """Credits spent on (or held for) a training whose job names another credit."""
    return await _findings(
        db,
        "SELECT c.id AS credit_id, c.payment_id, c.training_id, c.status, "
        "j.credit_id AS detail FROM training_credits c "
        "JOIN training_jobs j ON j.lora_training_id = c.training_id "
        "WHERE c.status IN ('reserved', 'consumed') AND j.credit_id IS NOT NULL "
        "AND j.credit_id != c.id ORDER BY c.id",
    )


async def live_trainings_with_unspent_credit(db: Database) -> list[Finding]:
    """Pending or completed trainings whose credit is usable again (it could pay twice)."""
    return await _findings(
        db,
        "SELECT j.lora_training_id AS training_id, j.credit_id, c.payment_id, c.status, "
        "t.status AS detail FROM training_jobs j "
        "JOIN lora_trainings t ON t.id = j.lora_training_id "
        "JOIN training_credits c ON c.id = j.credit_id "
        "WHERE t.status IN ('pending', 'completed') AND c.status != 'consumed' "
        "ORDER BY t.created_at",
    )


async def trainings_without_credit(db: Database) -> list[Finding]:
    """Bot trainings with no credit, or one backed by neither a payment nor an admin's
    reason."""
    return await _findings(
        db,
        "SELECT j.lora_training_id AS training_id, j.credit_id, c.payment_id, c.status, "
        "CASE WHEN j.credit_id IS NULL THEN 'no credit named' "
        "WHEN c.id IS NULL THEN 'credit missing' "
        "WHEN c.source = 'payment' AND p.id IS NULL THEN 'payment missing' "
        "WHEN c.source = 'admin' THEN 'admin credit without a reason' "
        "ELSE 'credit of unknown source ' || COALESCE(c.source, '?') END AS detail "
        "FROM training_jobs j LEFT JOIN training_credits c ON c.id = j.credit_id "
        "LEFT JOIN payments p ON p.id = c.payment_id "
        "WHERE j.credit_id IS NULL OR c.id IS NULL "
        "OR (c.source = 'payment' AND p.id IS NULL) "
        "OR (c.source = 'admin' AND TRIM(COALESCE(c.note, '')) = '') "
        "OR c.source NOT IN ('payment', 'admin') ORDER BY j.created_at",
    )


async def submitted_orders_without_training(db: Database) -> list[Finding]:
    """Submitted orders whose `lora_trainings` row is missing. Orders from before
    migration 0009 have no step (and may have no training id): one without a training
    id is only an offender when it has a step, i.e. was written by the durable
    submission; one with a training id is checked whatever its age."""
    return await _findings(
        db,
        "SELECT o.id AS order_id, o.lora_training_id AS training_id, o.credit_id, "
        "o.updated_at AS since FROM training_orders o WHERE o.status = 'submitted' "
        "AND ((o.lora_training_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM lora_trainings t WHERE t.id = o.lora_training_id)) "
        "OR (o.lora_training_id IS NULL AND o.step IS NOT NULL)) ORDER BY o.updated_at",
    )


async def durable_since(db: Database) -> str | None:
    """When migration 0009 (durable submissions) was applied here, in the stored format;
    None if it was not."""
    row = await db.fetchone("SELECT applied_at FROM schema_migrations WHERE version = 9")
    moment = read_time(row["applied_at"]) if row else None
    return iso(moment) if moment else None


async def jobs_without_order(db: Database, *, created_since: str) -> list[Finding]:
    """Bot trainings created since `created_since` that no order names. Jobs from before
    migration 0009 are not checked: older orders did not always keep the training id."""
    return await _findings(
        db,
        "SELECT j.lora_training_id AS training_id, j.credit_id, j.created_at AS since "
        "FROM training_jobs j WHERE j.created_at >= ? AND NOT EXISTS "
        "(SELECT 1 FROM training_orders o WHERE o.lora_training_id = j.lora_training_id) "
        "ORDER BY j.created_at",
        (created_since,),
    )
