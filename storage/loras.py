"""`lora_trainings` (the web app's table), read for the public gallery.

Rows may have been written by the web app or by anyone else with access to the shared
database, so every value is read defensively: a malformed `image_urls` makes a LoRA
without thumbnails, never a failed page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage import gallery_totals, keyset, trigger_search
from storage.connection import Connection, Row
from storage.db import Database
from storage.keyset import Mode, Query, Window

COLUMNS = (
    "id, request_id, wallet_address, trigger_word, steps, image_urls, lora_weights_url, "
    "status, created_at"
)
COMPLETED = "completed"
ID_PREFIX_MIN = 4  # characters typed before autocomplete matches ids by prefix


@dataclass(frozen=True, slots=True)
class Lora:
    id: str
    request_id: str
    wallet_address: str
    trigger_word: str
    steps: int | None
    image_urls: tuple[str, ...]
    image_urls_valid: bool  # False: the stored JSON was not an array (count unknown)
    lora_weights_url: str | None
    status: str
    created_at: str  # ISO 8601 UTC as stored

    @property
    def image_count(self) -> int | None:
        return len(self.image_urls) if self.image_urls_valid else None


@dataclass(frozen=True, slots=True)
class LoraFilter:
    """Which completed LoRAs a gallery shows. Both parts are optional and combine."""

    wallet: str | None = None  # 0x address, compared case-insensitively
    search: str | None = None  # case-insensitive substring of the trigger word

    @property
    def is_empty(self) -> bool:
        return self.wallet is None and self.search is None


@dataclass(frozen=True, slots=True)
class LoraChoice:
    id: str
    trigger_word: str
    wallet_address: str
    steps: int | None


def parse_image_urls(raw: Any) -> tuple[tuple[str, ...], bool]:
    """The stored JSON array of image URLs, and whether it was one."""
    if not isinstance(raw, str):
        return (), False
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return (), False
    if not isinstance(value, list):
        return (), False
    return tuple(url for url in value if isinstance(url, str)), True


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def to_lora(row: Row) -> Lora:
    urls, valid = parse_image_urls(row.get("image_urls"))
    weights = row.get("lora_weights_url")
    return Lora(
        id=_text(row.get("id")),
        request_id=_text(row.get("request_id")),
        wallet_address=_text(row.get("wallet_address")),
        trigger_word=_text(row.get("trigger_word")),
        steps=_int_or_none(row.get("steps")),
        image_urls=urls,
        image_urls_valid=valid,
        lora_weights_url=weights if isinstance(weights, str) and weights.strip() else None,
        status=_text(row.get("status")),
        created_at=_text(row.get("created_at")),
    )


def escape_like(text: str) -> str:
    r"""`text` as a literal inside a LIKE pattern with `ESCAPE '\'`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def gallery_query(flt: LoraFilter) -> Query:
    """Completed LoRAs matching `flt`. Each filter is a fixed SQL fragment with a bound
    parameter; the creator filter comes first so SQLite can use its index."""
    where: list[str] = []
    params: list[Any] = []
    if flt.wallet is not None:
        where.append("wallet_address = ? COLLATE NOCASE")
        params.append(flt.wallet)
    where.append("status = ?")
    params.append(COMPLETED)
    if flt.search is not None:
        where.append("trigger_word LIKE ? ESCAPE '\\'")
        params.append(f"%{escape_like(flt.search)}%")
    return Query("lora_trainings", COLUMNS, " AND ".join(where), tuple(params))


# --- Run in the database process (module-level functions, see storage/worker.py) -------
def in_db_gallery_window(
    conn: Connection,
    flt: LoraFilter,
    mode: Mode,
    anchor_id: str | None,
    size: int,
    total: int | None,
) -> Window[Lora]:
    query = gallery_query(flt)
    if flt.search is None and flt.wallet is None and total is None:
        total = gallery_totals.in_db_total(conn, COMPLETED)  # O(1): kept by triggers
    elif flt.search is not None:
        ids = trigger_search.in_db_candidates(conn, flt.search)
        if ids is not None:  # few candidates (or none): read those by id
            query = trigger_search.restricted(query, ids)
    return keyset.in_db_read_window(
        conn, query, to_lora, mode=mode, anchor_id=anchor_id, size=size, total=total
    )


def in_db_get(conn: Connection, lora_id: str) -> Lora | None:
    row = conn.fetchone(f"SELECT {COLUMNS} FROM lora_trainings WHERE id = ?", (lora_id,))  # noqa: S608
    return None if row is None else to_lora(row)


def in_db_find(conn: Connection, text: str) -> Lora | None:
    """What a user TYPED: by exact id, else by id ignoring ASCII case (a typed
    `abcd…` finds the web app's `ABCD…`; the newest if several), else the newest
    completed LoRA with exactly this trigger word (ignoring ASCII case). Buttons use
    `in_db_get` (exactly the row they were made for)."""
    text = text.strip()
    if not text:
        return None
    found = in_db_get(conn, text)
    if found is not None:
        return found
    row = conn.fetchone(
        f"SELECT {COLUMNS} FROM lora_trainings WHERE id = ? COLLATE NOCASE "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        (text,),
    )
    if row is not None:
        return to_lora(row)
    row = conn.fetchone(
        f"SELECT {COLUMNS} FROM lora_trainings "  # noqa: S608
        "WHERE status = ? AND trigger_word = ? COLLATE NOCASE "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        (COMPLETED, text),
    )
    return None if row is None else to_lora(row)


_CHOICE_COLUMNS = "id, trigger_word, wallet_address, steps"


def _choice(row: Row) -> LoraChoice:
    return LoraChoice(
        id=_text(row.get("id")),
        trigger_word=_text(row.get("trigger_word")),
        wallet_address=_text(row.get("wallet_address")),
        steps=_int_or_none(row.get("steps")),
    )


def in_db_suggest(conn: Connection, text: str, limit: int) -> list[LoraChoice]:
    """Completed LoRAs for autocomplete: id prefix, then trigger-word prefix (both index
    ranges), then trigger-word substring (a scan of the covering trigger index)."""
    text = " ".join(text.split())
    if not text:
        rows = conn.fetchall(
            f"SELECT {_CHOICE_COLUMNS} FROM lora_trainings WHERE status = ? "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT ?",
            (COMPLETED, limit),
        )
        return [_choice(r) for r in rows]
    ids: list[str] = []
    if len(text) >= ID_PREFIX_MIN and " " not in text:
        # Ids of any shape by prefix, as typed and in either case (the web app writes
        # upper-case hex, the bot lower-case): index ranges of the primary key.
        for prefix in dict.fromkeys((text, text.upper(), text.lower())):
            ids += [
                r["id"]
                for r in conn.fetchall(
                    "SELECT id FROM lora_trainings WHERE id >= ? AND id < ? AND status = ? LIMIT ?",
                    (prefix, prefix + "\U0010ffff", COMPLETED, limit),
                )
            ]
    ids += [
        r["id"]
        for r in conn.fetchall(
            "SELECT id FROM lora_trainings WHERE status = ? "
            "AND trigger_word >= ? COLLATE NOCASE AND trigger_word < ? COLLATE NOCASE "
            "ORDER BY trigger_word COLLATE NOCASE, id LIMIT ?",
            (COMPLETED, text, text + "\U0010ffff", limit),
        )
    ]
    if len(set(ids)) < limit:
        ids += [
            r["id"]
            for r in conn.fetchall(
                "SELECT id FROM lora_trainings WHERE status = ? "
                "AND trigger_word LIKE ? ESCAPE '\\' "
                "AND NOT (trigger_word >= ? COLLATE NOCASE AND trigger_word < ? COLLATE NOCASE) "
                "ORDER BY trigger_word COLLATE NOCASE, id LIMIT ?",
                (COMPLETED, f"%{escape_like(text)}%", text, text + "\U0010ffff", limit),
            )
        ]
    ordered = list(dict.fromkeys(ids))[:limit]
    if not ordered:
        return []
    marks = ", ".join("?" for _ in ordered)
    rows = conn.fetchall(
        f"SELECT {_CHOICE_COLUMNS} FROM lora_trainings WHERE id IN ({marks})",  # noqa: S608
        ordered,
    )
    by_id = {r["id"]: _choice(r) for r in rows}
    return [by_id[i] for i in ordered if i in by_id]


# --- Async face -----------------------------------------------------------------------------
async def gallery_window(
    db: Database,
    flt: LoraFilter,
    *,
    mode: Mode,
    anchor_id: str | None,
    size: int,
    total: int | None = None,
) -> Window[Lora]:
    return await db.run(in_db_gallery_window, flt, mode, anchor_id, size, total)


async def get(db: Database, lora_id: str) -> Lora | None:
    return await db.run(in_db_get, lora_id)


async def find(db: Database, text: str) -> Lora | None:
    return await db.run(in_db_find, text)


async def suggest(db: Database, text: str, limit: int = 25) -> list[LoraChoice]:
    return await db.run(in_db_suggest, text, limit)
