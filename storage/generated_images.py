"""`generated_images` (the web app's table), read for a LoRA's detail page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage import keyset, loras
from storage.connection import Connection, Row
from storage.db import Database
from storage.keyset import Mode, Query, Window
from storage.loras import Lora

COLUMNS = (
    "id, lora_training_id, wallet_address, prompt, image_url, image_width, image_height, "
    "seed, created_at"
)


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    id: str
    lora_training_id: str
    wallet_address: str
    prompt: str
    image_url: str
    image_width: int | None
    image_height: int | None
    seed: str | None
    created_at: str


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def to_image(row: Row) -> GeneratedImage:
    seed = row.get("seed")
    return GeneratedImage(
        id=_text(row.get("id")),
        lora_training_id=_text(row.get("lora_training_id")),
        wallet_address=_text(row.get("wallet_address")),
        prompt=_text(row.get("prompt")),
        image_url=_text(row.get("image_url")),
        image_width=_int_or_none(row.get("image_width")),
        image_height=_int_or_none(row.get("image_height")),
        seed=None if seed is None else _text(seed),
        created_at=_text(row.get("created_at")),
    )


def images_query(lora_id: str) -> Query:
    return Query("generated_images", COLUMNS, "lora_training_id = ?", (lora_id,))


# --- Run in the database process ------------------------------------------------------------
def in_db_detail(
    conn: Connection, lora_id: str, mode: Mode, anchor_id: str | None, size: int
) -> tuple[Lora | None, Window[GeneratedImage]]:
    """A LoRA and one page of the images generated from it: one round trip."""
    lora = loras.in_db_get(conn, lora_id)
    if lora is None:
        return None, Window((), 0, False, False, Mode.FIRST)
    window = keyset.in_db_read_window(
        conn, images_query(lora.id), to_image, mode=mode, anchor_id=anchor_id, size=size
    )
    return lora, window


# --- Async face -----------------------------------------------------------------------------
async def detail(
    db: Database, lora_id: str, *, mode: Mode, anchor_id: str | None, size: int
) -> tuple[Lora | None, Window[GeneratedImage]]:
    return await db.run(in_db_detail, lora_id, mode, anchor_id, size)
