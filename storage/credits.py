"""`training_credits`: one training each, bought by a payment or given by an admin.

    available --reserve--> reserved --consume--> consumed
        ^                      |                     |
        +------- restore ------+---------------------+

Every change is one conditional UPDATE on the credit's current status, so two tasks (or
processes) can never both take one credit. The `in_db_*` functions run in the database
process: alone through this module's async functions, or inside another storage
module's transaction (`storage.payments.claim`, `storage.trainings.record_submitted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.connection import Connection, Row
from storage.db import Database
from storage.timefmt import iso, parse_time, utc_now

AVAILABLE, RESERVED, CONSUMED = "available", "reserved", "consumed"
FROM_PAYMENT, FROM_ADMIN = "payment", "admin"

_COLUMNS = (
    "id, discord_user_id, wallet_address, source, payment_id, status, note, created_at, "
    "reserved_at, consumed_at, training_id, granted_by"
)


class CreditGone(Exception):
    """The credit is no longer reserved for (nor available to) the training that wanted
    to spend it: consumed, or reserved for another training. Raised inside a
    transaction, it rolls the whole transaction back."""


@dataclass(frozen=True, slots=True)
class Credit:
    id: str
    discord_user_id: int
    wallet: str
    source: str  # "payment" or "admin"
    payment_id: str | None  # set when source is "payment"
    status: str  # "available", "reserved" or "consumed"
    created_at: datetime
    note: str | None = None
    reserved_at: datetime | None = None
    consumed_at: datetime | None = None
    training_id: str | None = None
    granted_by: str | None = None  # the operator who granted it (`lora-bot admin grant-credit`)


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def _credit(row: Row) -> Credit:
    return Credit(
        id=row["id"],
        discord_user_id=int(row["discord_user_id"]),
        wallet=row["wallet_address"],
        source=row["source"],
        payment_id=row["payment_id"],
        status=row["status"],
        created_at=parse_time(row["created_at"]),
        note=row["note"],
        reserved_at=_time(row["reserved_at"]),
        consumed_at=_time(row["consumed_at"]),
        training_id=row["training_id"],
        granted_by=row["granted_by"],
    )


def in_db_insert(conn: Connection, credit: Credit) -> None:
    conn.execute(
        f"INSERT INTO training_credits ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            credit.id,
            str(credit.discord_user_id),
            credit.wallet,
            credit.source,
            credit.payment_id,
            credit.status,
            credit.note,
            iso(credit.created_at),
            iso(credit.reserved_at) if credit.reserved_at else None,
            iso(credit.consumed_at) if credit.consumed_at else None,
            credit.training_id,
            credit.granted_by,
        ),
    )


def in_db_get(conn: Connection, credit_id: str) -> Credit | None:
    row = conn.fetchone(
        f"SELECT {_COLUMNS} FROM training_credits WHERE id = ?",  # noqa: S608
        (credit_id,),
    )
    return _credit(row) if row else None


async def insert(db: Database, credit: Credit) -> None:
    await db.run(in_db_insert, credit)


async def get(db: Database, credit_id: str) -> Credit | None:
    return await db.run(in_db_get, credit_id)


async def list_available(db: Database, discord_user_id: int) -> list[Credit]:
    """The user's unused credits, oldest first."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM training_credits "  # noqa: S608
        "WHERE discord_user_id = ? AND status = 'available' ORDER BY created_at, id",
        (str(discord_user_id),),
    )
    return [_credit(r) for r in rows]


async def list_recent(
    db: Database,
    *,
    wallet: str | None = None,
    discord_user_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Credit]:
    """Credits newest first, for operators (`lora-bot admin credits`); the wallet is
    compared case-insensitively."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM training_credits "  # noqa: S608 (constant columns)
        "WHERE (? IS NULL OR wallet_address = ? COLLATE NOCASE) "
        "AND (? IS NULL OR discord_user_id = ?) AND (? IS NULL OR status = ?) "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        (wallet, wallet, *_twice(discord_user_id), status, status, limit),
    )
    return [_credit(r) for r in rows]


def _twice(user_id: int | None) -> tuple[str | None, str | None]:
    text = None if user_id is None else str(user_id)
    return text, text


async def find_by_training(db: Database, training_id: str) -> Credit | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM training_credits WHERE training_id = ?",  # noqa: S608
        (training_id,),
    )
    return _credit(row) if row else None


def in_db_reserve(
    conn: Connection, credit_id: str, training_id: str, discord_user_id: int, now: str
) -> Credit | None:
    """available -> reserved for `training_id`; None when the credit is not the user's
    or not available (any more)."""
    row = conn.fetchone(
        "UPDATE training_credits SET status = 'reserved', reserved_at = ?, training_id = ? "  # noqa: S608
        "WHERE id = ? AND discord_user_id = ? AND status = 'available' "
        f"RETURNING {_COLUMNS}",
        (now, training_id, credit_id, str(discord_user_id)),
    )
    return _credit(row) if row else None


def in_db_reserve_oldest(
    conn: Connection, discord_user_id: int, training_id: str, now: str
) -> Credit | None:
    """Reserve the user's oldest available credit for `training_id`; None if they have none."""
    row = conn.fetchone(
        "UPDATE training_credits SET status = 'reserved', reserved_at = ?, training_id = ? "  # noqa: S608
        "WHERE id = (SELECT id FROM training_credits WHERE discord_user_id = ? "
        "AND status = 'available' ORDER BY created_at, id LIMIT 1) AND status = 'available' "
        f"RETURNING {_COLUMNS}",
        (now, training_id, str(discord_user_id)),
    )
    return _credit(row) if row else None


def in_db_consume(
    conn: Connection, credit_id: str, training_id: str, now: str | None = None
) -> bool:
    """reserved for `training_id` (or still available) -> consumed by `training_id`.
    False when the credit is gone: consumed, or reserved for another training."""
    cursor = conn.execute(
        "UPDATE training_credits SET status = 'consumed', consumed_at = ?, training_id = ?, "
        "reserved_at = COALESCE(reserved_at, ?) WHERE id = ? "
        "AND (status = 'available' OR (status = 'reserved' AND training_id = ?))",
        (now or utc_now(), training_id, now or utc_now(), credit_id, training_id),
    )
    return int(cursor.rowcount) == 1


def in_db_restore(conn: Connection, credit_id: str, training_id: str | None = None) -> bool:
    """reserved or consumed -> available again (fal never took the job, or the training
    failed). With `training_id`, only while the credit is still tied to that training."""
    cursor = conn.execute(
        "UPDATE training_credits SET status = 'available', reserved_at = NULL, "
        "consumed_at = NULL, training_id = NULL "
        "WHERE id = ? AND status IN ('reserved', 'consumed') AND (? IS NULL OR training_id = ?)",
        (credit_id, training_id, training_id),
    )
    return int(cursor.rowcount) == 1


def in_db_restore_for_training(conn: Connection, training_id: str) -> bool:
    """The credit that paid for `training_id` becomes available again."""
    cursor = conn.execute(
        "UPDATE training_credits SET status = 'available', reserved_at = NULL, "
        "consumed_at = NULL, training_id = NULL "
        "WHERE training_id = ? AND status IN ('reserved', 'consumed')",
        (training_id,),
    )
    return int(cursor.rowcount) > 0


async def reserve(
    db: Database, credit_id: str, training_id: str, discord_user_id: int, *, now: str
) -> Credit | None:
    """available -> reserved for `training_id`; None when the credit is not the user's
    or not available (any more)."""
    return await db.run(in_db_reserve, credit_id, training_id, discord_user_id, now)


async def reserve_oldest(
    db: Database, discord_user_id: int, training_id: str, *, now: str
) -> Credit | None:
    """Reserve the user's oldest available credit for `training_id`; None if they have none."""
    return await db.run(in_db_reserve_oldest, discord_user_id, training_id, now)


async def restore(db: Database, credit_id: str, *, training_id: str | None = None) -> bool:
    """reserved or consumed -> available again; with `training_id`, only while the credit
    is still tied to that training."""
    return await db.run(in_db_restore, credit_id, training_id)


async def restore_for_training(db: Database, training_id: str) -> bool:
    """The credit that paid for `training_id` becomes available again."""
    return await db.run(in_db_restore_for_training, training_id)


async def release_stale_reservations(db: Database, *, reserved_before: str) -> int:
    """Reservations whose process died before the training row was written: available
    again. A reservation whose `lora_trainings` row exists is left alone."""
    return await db.execute(
        "UPDATE training_credits SET status = 'available', reserved_at = NULL, "
        "training_id = NULL WHERE status = 'reserved' AND reserved_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM lora_trainings t WHERE t.id = training_credits.training_id)",
        (reserved_before,),
    )


def in_db_open_admin_credit(conn: Connection, credit: Credit) -> Credit:
    """Runs inside `db.transaction` (see `open_admin_credit`): the user's available admin credit, or `credit`
    inserted. An admin who starts /train twice without finishing gets one credit."""
    row = conn.fetchone(
        f"SELECT {_COLUMNS} FROM training_credits WHERE discord_user_id = ? "  # noqa: S608
        "AND source = 'admin' AND status = 'available' AND note IS ? ORDER BY created_at LIMIT 1",
        (str(credit.discord_user_id), credit.note),
    )
    if row is not None:
        return _credit(row)
    in_db_insert(conn, credit)
    return credit


async def open_admin_credit(db: Database, credit: Credit) -> Credit:
    """The user's available admin credit with `credit.note`, or `credit` inserted: one
    transaction, so two /train clicks cannot both insert one."""
    return await db.transaction(in_db_open_admin_credit, credit)
