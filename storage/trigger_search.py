"""Substring search of trigger words through the trigram index of migration 0036.

A LIKE '%text%' that matches nothing must read every trigger word (104 ms at 100k
LoRAs). The trigram index (`lora_trigger_search`, kept by triggers, so the web app's
rows are in it too) finds the candidate ids at once. A search of 3 characters or more
whose candidates are few is answered from them (the exact LIKE and every other filter
still apply); one with many candidates keeps the ordinary query, whose newest-first scan
meets a match soon when matches are that common. Under 3 characters there is no trigram.
"""

from __future__ import annotations

import json

from storage.connection import Connection
from storage.keyset import Query

MIN_LENGTH = 3  # the trigram tokenizer indexes nothing shorter
CANDIDATE_CAP = 2000  # above this, the ordinary scan is as good


def phrase(text: str) -> str:
    """`text` as one FTS5 string (a quoted phrase: no operator inside means anything)."""
    return '"' + text.replace('"', '""') + '"'


def in_db_candidates(conn: Connection, text: str, cap: int = CANDIDATE_CAP) -> list[str] | None:
    """Ids whose trigger word may contain `text` (a superset: the index folds case more
    widely than LIKE), or None when it cannot say cheaply (too short, or over `cap`)."""
    if len(text) < MIN_LENGTH:
        return None
    rows = conn.fetchall(
        "SELECT id FROM lora_trigger_search WHERE lora_trigger_search MATCH ? LIMIT ?",
        (phrase(text), cap + 1),
    )
    if len(rows) > cap:
        return None
    return [str(r["id"]) for r in rows]


def restricted(query: Query, ids: list[str]) -> Query:
    """`query` limited to `ids`. Its own conditions go behind a unary `+`, so SQLite
    reads the few ids by primary key instead of scanning its other index for them."""
    return Query(
        query.table,
        query.columns,
        f"id IN (SELECT value FROM json_each(?)) AND +({query.where})",  # noqa: S608 (constants)
        (json.dumps(ids), *query.params),
    )
