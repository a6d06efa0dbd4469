"""Rows of the web app's tables in its exact formats, for gallery tests and the benchmark:
ids are 32 hex digits of 16 random bytes, `created_at` ISO 8601 UTC with milliseconds
and a `Z`, `image_urls` a JSON array of Are.na URLs, `seed` TEXT."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.db import Connection, Database

WALLET_A = "0x1234567890AbcdEF1234567890aBcdef12345678"
WALLET_B = "0xFEDCBA0987654321fedcba0987654321FEDCBA09"
BASE_TIME = datetime(2026, 2, 11, 10, 20, 30, 123000, tzinfo=UTC)

LORA_COLUMNS = (
    "id",
    "request_id",
    "wallet_address",
    "trigger_word",
    "steps",
    "image_urls",
    "lora_weights_url",
    "status",
    "created_at",
)
IMAGE_COLUMNS = (
    "id",
    "lora_training_id",
    "wallet_address",
    "prompt",
    "image_url",
    "image_width",
    "image_height",
    "seed",
    "created_at",
)


def new_id() -> str:
    return secrets.token_bytes(16).hex()


def iso(moment: datetime) -> str:
    """`2026-02-11T10:20:30.123Z`, as JavaScript's `toISOString()` writes it."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def arena_url(block: int) -> str:
    return (
        f"https://d2w9rnfcy7mm78.cloudfront.net/{block}/original_{secrets.token_hex(16)}.jpg"
        f"?1695613220?bc=0"
    )


def lora_row(
    *,
    minutes: float = 0,
    trigger_word: str = "sks style",
    wallet: str = WALLET_A,
    steps: int = 1000,
    images: int = 12,
    image_urls: str | None = None,
    weights: str | None = "auto",
    status: str = "completed",
    lora_id: str | None = None,
) -> dict[str, Any]:
    """A LoRA trained `minutes` after BASE_TIME (larger is newer)."""
    lora_id = lora_id or new_id()
    if weights == "auto":
        weights = (
            f"https://v3.fal.media/files/rabbit/{lora_id[:12]}/pytorch_lora_weights.safetensors"
        )
    return {
        "id": lora_id,
        "request_id": new_id(),
        "wallet_address": wallet,
        "trigger_word": trigger_word,
        "steps": steps,
        "image_urls": image_urls
        if image_urls is not None
        else json.dumps([arena_url(1000 + n) for n in range(images)]),
        "lora_weights_url": weights,
        "status": status,
        "created_at": iso(BASE_TIME + timedelta(minutes=minutes)),
    }


def image_row(
    lora_id: str,
    *,
    minutes: float = 0,
    prompt: str = "a cat in a hat",
    wallet: str = WALLET_A,
    seed: str | None = "1234567",
) -> dict[str, Any]:
    image_id = new_id()
    return {
        "id": image_id,
        "lora_training_id": lora_id,
        "wallet_address": wallet,
        "prompt": prompt,
        "image_url": f"https://v3.fal.media/files/tiger/{image_id}.jpeg",
        "image_width": 1024,
        "image_height": 1024,
        "seed": seed,
        "created_at": iso(BASE_TIME + timedelta(minutes=minutes)),
    }


def op_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    assert table in ("lora_trainings", "generated_images")
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


async def insert_loras(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    values = [tuple(row[c] for c in LORA_COLUMNS) for row in rows]
    await db.transaction(op_insert, "lora_trainings", LORA_COLUMNS, values)


async def insert_images(db: Database, rows: Sequence[dict[str, Any]]) -> None:
    values = [tuple(row[c] for c in IMAGE_COLUMNS) for row in rows]
    await db.transaction(op_insert, "generated_images", IMAGE_COLUMNS, values)


async def link_wallet(db: Database, discord_user_id: int, wallet: str) -> None:
    await db.execute(
        "INSERT INTO wallet_links (discord_user_id, wallet_address, proof, linked_at) "
        "VALUES (?, ?, 'eoa', ?)",
        (str(discord_user_id), wallet, iso(BASE_TIME)),
    )
