"""Where one Discord user stands, for `/help`'s steps and `/wallet status`: their linked
wallet, unused training credits, whether they have a finished LoRA or any generated image,
and what counts against their wallet's quota — read in one round trip.

Functions named `in_db_…` run inside the database process (see storage/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import generation_batches
from storage.connection import Connection
from storage.db import Database
from storage.generation_batches import Used
from storage.wallets import WalletLink


@dataclass(frozen=True, slots=True)
class Standing:
    link: WalletLink | None
    unused_credits: int
    has_finished_lora: bool  # a completed LoRA trained from their wallet
    has_generated: bool  # any image from their wallet (bot or web app)
    used: Used | None  # None without a wallet


# --- Run in the database process ------------------------------------------------------------
def in_db_standing(
    conn: Connection, discord_user_id: int, window_start: str, fresh_after: str, limit: int
) -> Standing:
    user = str(discord_user_id)
    row = conn.fetchone(
        "SELECT discord_user_id, wallet_address, proof, linked_at, "
        "(SELECT COUNT(*) FROM training_credits WHERE discord_user_id = ? "
        " AND status = 'available') AS credits "
        "FROM (SELECT 1) LEFT JOIN wallet_links ON discord_user_id = ?",
        (user, user),
    )
    assert row is not None  # the FROM (SELECT 1) always gives one row
    credits = int(row["credits"] or 0)
    if row["wallet_address"] is None:
        return Standing(None, credits, False, False, None)
    link = WalletLink(
        discord_user_id=int(row["discord_user_id"]),
        wallet_address=row["wallet_address"],
        proof=row["proof"],
        linked_at=row["linked_at"],
    )
    wallet = link.wallet_address
    flags = conn.fetchone(
        # NOCASE matches idx_lora_trainings_creator; lower() idx_gen_images_wallet_lower_created.
        "SELECT EXISTS (SELECT 1 FROM lora_trainings WHERE wallet_address = ? COLLATE NOCASE "
        " AND status = 'completed') AS lora, "
        "EXISTS (SELECT 1 FROM generated_images WHERE lower(wallet_address) = lower(?)) AS gen",
        (wallet, wallet),
    )
    assert flags is not None
    used = generation_batches.in_db_used(conn, wallet, window_start, fresh_after, limit)
    return Standing(link, credits, bool(flags["lora"]), bool(flags["gen"]), used)


# --- Async face -----------------------------------------------------------------------------
async def standing(
    db: Database, discord_user_id: int, *, window_start: str, fresh_after: str, limit: int
) -> Standing:
    return await db.run(in_db_standing, discord_user_id, window_start, fresh_after, limit)
