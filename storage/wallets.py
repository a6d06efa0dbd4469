"""`wallet_links`: which wallet each Discord user has proven (one per user)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True, slots=True)
class WalletLink:
    discord_user_id: int
    wallet_address: str  # EIP-55 checksummed
    proof: str  # "eoa", "erc1271" or "erc6492"
    linked_at: str  # ISO 8601 UTC


async def get_link(db: Database, discord_user_id: int) -> WalletLink | None:
    row = await db.fetchone(
        "SELECT discord_user_id, wallet_address, proof, linked_at FROM wallet_links "
        "WHERE discord_user_id = ?",
        (str(discord_user_id),),
    )
    if row is None:
        return None
    return WalletLink(
        discord_user_id=int(row["discord_user_id"]),
        wallet_address=row["wallet_address"],
        proof=row["proof"],
        linked_at=row["linked_at"],
    )


async def links_of_wallet(db: Database, wallet: str) -> list[WalletLink]:
    """Every Discord user who linked `wallet` (compared case-insensitively), newest first."""
    rows = await db.fetchall(
        "SELECT discord_user_id, wallet_address, proof, linked_at FROM wallet_links "
        "WHERE wallet_address = ? COLLATE NOCASE ORDER BY linked_at DESC",
        (wallet.strip(),),
    )
    return [
        WalletLink(
            discord_user_id=int(r["discord_user_id"]),
            wallet_address=r["wallet_address"],
            proof=r["proof"],
            linked_at=r["linked_at"],
        )
        for r in rows
    ]


async def remove_link(db: Database, discord_user_id: int) -> bool:
    changed = await db.execute(
        "DELETE FROM wallet_links WHERE discord_user_id = ?", (str(discord_user_id),)
    )
    return changed > 0
