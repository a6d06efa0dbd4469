"""`siwe_challenges`: one-time link tokens, their nonce and the exact message text.

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from storage.connection import Connection
from storage.db import Database
from storage.timefmt import iso, parse_time

_COLUMNS = (
    "token, discord_user_id, discord_user_name, nonce, address, message, created_at, "
    "expires_at, consumed_at, application_id, interaction_token, message_id, request_id, "
    "signature_attempts, guild_name"
)


@dataclass(frozen=True, slots=True)
class Challenge:
    token: str
    discord_user_id: int
    discord_user_name: str
    nonce: str
    address: str | None
    message: str | None
    created_at: str
    expires_at: str
    consumed_at: str | None
    application_id: int | None
    interaction_token: str | None
    message_id: int | None
    # The SIWE message's Request ID: random, and not the token (which is a credential).
    # None only on rows made before migration 0010.
    request_id: str | None = None
    # Signature checks started for this token (see `reserve_attempt`).
    signature_attempts: int = 0
    # The Discord server the link was asked for in (None: a direct message, or a row
    # made before migration 0040). The signing page names it.
    guild_name: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Challenge:
        def as_int(value: Any) -> int | None:
            return int(value) if value not in (None, "") else None

        return cls(
            token=row["token"],
            discord_user_id=int(row["discord_user_id"]),
            discord_user_name=row["discord_user_name"],
            nonce=row["nonce"],
            address=row["address"],
            message=row["message"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            consumed_at=row["consumed_at"],
            application_id=as_int(row["application_id"]),
            interaction_token=row["interaction_token"],
            message_id=as_int(row["message_id"]),
            request_id=row["request_id"],
            signature_attempts=int(row["signature_attempts"] or 0),
            guild_name=row["guild_name"],
        )


@dataclass(frozen=True, slots=True)
class OpenCount:
    open_now: int
    created_last_minute: int
    oldest_open_expires_at: str | None


def in_db_create(
    conn: Connection,
    challenge: Challenge,
    now: str,
    minute_ago: str,
    max_open: int,
    max_per_minute: int,
) -> OpenCount | None:
    """Insert unless the user is over a limit; return the counts when refused."""
    with conn.transaction():
        user = str(challenge.discord_user_id)
        row = conn.fetchone(
            "SELECT "
            "  SUM(CASE WHEN consumed_at IS NULL AND expires_at > ? THEN 1 ELSE 0 END) AS open_now, "
            "  SUM(CASE WHEN created_at > ? THEN 1 ELSE 0 END) AS recent, "
            "  MIN(CASE WHEN consumed_at IS NULL AND expires_at > ? THEN expires_at END) AS oldest "
            "FROM siwe_challenges WHERE discord_user_id = ? AND created_at > ?",
            (now, minute_ago, now, user, _day_before(now)),
        )
        open_now = int(row["open_now"] or 0) if row else 0
        recent = int(row["recent"] or 0) if row else 0
        if open_now >= max_open or recent >= max_per_minute:
            return OpenCount(open_now, recent, row["oldest"] if row else None)
        conn.execute(
            "INSERT INTO siwe_challenges (token, discord_user_id, discord_user_name, nonce, "
            "created_at, expires_at, request_id, guild_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                challenge.token,
                user,
                challenge.discord_user_name,
                challenge.nonce,
                challenge.created_at,
                challenge.expires_at,
                challenge.request_id,
                challenge.guild_name,
            ),
        )
    return None


def _day_before(iso_now: str) -> str:
    # Open tokens live 10 minutes: looking one day back bounds the scan by the index.
    return iso(parse_time(iso_now) - timedelta(days=1))


async def create(
    db: Database,
    challenge: Challenge,
    *,
    now: str,
    minute_ago: str,
    max_open: int,
    max_per_minute: int,
) -> OpenCount | None:
    return await db.run(in_db_create, challenge, now, minute_ago, max_open, max_per_minute)


async def get(db: Database, token: str) -> Challenge | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM siwe_challenges WHERE token = ?",  # noqa: S608 (constant columns)
        (token,),
    )
    return None if row is None else Challenge.from_row(row)


async def set_message(db: Database, token: str, address: str, message: str) -> bool:
    changed = await db.execute(
        "UPDATE siwe_challenges SET address = ?, message = ? "
        "WHERE token = ? AND consumed_at IS NULL",
        (address, message, token),
    )
    return changed == 1


async def attach_interaction(
    db: Database, token: str, application_id: int, interaction_token: str, message_id: int
) -> None:
    await db.execute(
        "UPDATE siwe_challenges SET application_id = ?, interaction_token = ?, message_id = ? "
        "WHERE token = ?",
        (str(application_id), interaction_token, str(message_id), token),
    )


def in_db_reserve_attempt(conn: Connection, token: str, now: str, max_attempts: int) -> int | None:
    """Count one signature check against the token before it runs, atomically: returns
    the attempt's number (1, 2, …), or None when the token is used, expired or has had
    `max_attempts` already. Reserving first (rather than counting failures after the
    check) keeps the limit when many checks of one token run at once."""
    row = conn.fetchone(
        "UPDATE siwe_challenges SET signature_attempts = signature_attempts + 1 "
        "WHERE token = ? AND consumed_at IS NULL AND expires_at > ? "
        "AND signature_attempts < ? RETURNING signature_attempts",
        (token, now, max_attempts),
    )
    return None if row is None else int(row["signature_attempts"])


async def reserve_attempt(db: Database, token: str, *, now: str, max_attempts: int) -> int | None:
    return await db.run(in_db_reserve_attempt, token, now, max_attempts)


def in_db_consume_and_link(
    conn: Connection, token: str, address: str, message: str, proof: str, now: str
) -> int | None:
    """Mark the token used and link the wallet, atomically. The `message = ?` guard makes
    sure the text that was verified is still the one stored; `expires_at > now` that the
    token did not expire while its signature was checked (a contract wallet's check is
    a network round trip). Returns the Discord user id, or None when the token was
    already used, has expired, or its message changed meanwhile."""
    with conn.transaction():
        row = conn.fetchone(
            "UPDATE siwe_challenges SET consumed_at = ? "
            "WHERE token = ? AND consumed_at IS NULL AND expires_at > ? "
            "AND address = ? AND message = ? "
            "RETURNING discord_user_id",
            (now, token, now, address, message),
        )
        if row is None:
            return None
        conn.execute(
            "INSERT INTO wallet_links (discord_user_id, wallet_address, proof, linked_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (discord_user_id) DO UPDATE SET "
            "wallet_address = excluded.wallet_address, proof = excluded.proof, "
            "linked_at = excluded.linked_at",
            (row["discord_user_id"], address, proof, now),
        )
        return int(row["discord_user_id"])


async def consume_and_link(
    db: Database, token: str, *, address: str, message: str, proof: str, now: str
) -> int | None:
    return await db.run(in_db_consume_and_link, token, address, message, proof, now)


async def forget_interaction(db: Database, token: str) -> None:
    """The Discord interaction token is a credential: drop it once it has been used."""
    await db.execute(
        "UPDATE siwe_challenges SET interaction_token = NULL WHERE token = ?", (token,)
    )


async def forget_expired_interactions(db: Database, *, now: str) -> int:
    """Drop the Discord interaction of every link that expired unused: nothing will edit
    its message any more, and the interaction token is a credential. Returns how many."""
    return await db.execute(
        "UPDATE siwe_challenges SET interaction_token = NULL, application_id = NULL, "
        "message_id = NULL WHERE expires_at <= ? AND interaction_token IS NOT NULL",
        (now,),
    )


async def purge(db: Database, *, expired_before: str) -> int:
    return await db.execute("DELETE FROM siwe_challenges WHERE expires_at < ?", (expired_before,))
