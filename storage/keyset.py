"""Keyset pagination over `(created_at, id)`, newest first, without OFFSET.

A page is asked for relative to an anchor row (the last row of the page before it, or
the first row of the page after it), so every page costs one index range scan however
deep it is. The last page is read from the oldest end. Runs inside the database
process: callers are other modules' `in_db_*` functions that pass their own SQL
fragments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from storage.connection import Connection, Row

T = TypeVar("T")


class Mode(StrEnum):
    FIRST = "first"  # the newest rows
    OLDER = "older"  # rows strictly older than the anchor
    NEWER = "newer"  # rows strictly newer than the anchor
    LAST = "last"  # the oldest rows (the last page, however many rows it holds)


@dataclass(frozen=True, slots=True)
class Window(Generic[T]):
    items: tuple[T, ...]  # newest first
    total: int  # rows matching the filter (maybe cached by the caller, so approximate)
    has_newer: bool
    has_older: bool
    mode: Mode  # the mode actually served (an anchor that vanished falls back)


@dataclass(frozen=True, slots=True)
class Query:
    """The fixed parts of one paged query. `table`, `columns` and `where` are constants
    of the calling module (never user text); `params` are bound."""

    table: str
    columns: str
    where: str
    params: tuple[Any, ...]


def in_db_count(conn: Connection, query: Query) -> int:
    sql = f"SELECT COUNT(*) AS n FROM {query.table} WHERE {query.where}"  # noqa: S608  # constants only
    row = conn.fetchone(sql, query.params)
    return int(row["n"]) if row else 0


def _anchor(conn: Connection, table: str, anchor_id: str | None) -> tuple[str, str] | None:
    if anchor_id is None:
        return None
    row = conn.fetchone(f"SELECT created_at, id FROM {table} WHERE id = ?", (anchor_id,))  # noqa: S608
    return None if row is None else (row["created_at"], row["id"])


def _rows(
    conn: Connection, query: Query, extra: str, params: Sequence[Any], order: str, limit: int
) -> list[Row]:
    sql = (
        f"SELECT {query.columns} FROM {query.table} WHERE {query.where}{extra} "  # noqa: S608
        f"ORDER BY created_at {order}, id {order} LIMIT ?"
    )
    return conn.fetchall(sql, (*query.params, *params, limit))


def in_db_read_window(
    conn: Connection,
    query: Query,
    convert: Callable[[Row], T],
    *,
    mode: Mode,
    anchor_id: str | None,
    size: int,
    total: int | None = None,
) -> Window[T]:
    """One page of `size` rows. `total` is counted unless the caller knows it (the last
    page holds `total % size` rows, so a stale total can shift it by a few rows until the
    caller's total is refreshed; the pages themselves are always read live)."""
    if total is None:
        total = in_db_count(conn, query)
    anchor = _anchor(conn, query.table, anchor_id) if mode in (Mode.OLDER, Mode.NEWER) else None
    if mode in (Mode.OLDER, Mode.NEWER) and anchor is None:
        mode = Mode.FIRST  # the anchor row is gone: start again from the newest

    if mode is Mode.OLDER:
        assert anchor is not None
        rows = _rows(conn, query, " AND (created_at, id) < (?, ?)", anchor, "DESC", size + 1)
        if rows:
            return _window(rows[:size], convert, total, True, len(rows) > size, mode)
        mode, total = Mode.LAST, in_db_count(conn, query)  # nothing older any more
    if mode is Mode.NEWER:
        assert anchor is not None
        rows = _rows(conn, query, " AND (created_at, id) > (?, ?)", anchor, "ASC", size + 1)
        if rows:
            newest_first = rows[:size][::-1]
            return _window(newest_first, convert, total, len(rows) > size, True, mode)
        mode = Mode.FIRST  # nothing newer any more
    if mode is Mode.LAST:
        last_size = total - (max(1, -(-total // size)) - 1) * size
        if last_size <= 0:
            return Window((), total, False, False, mode)
        rows = _rows(conn, query, "", (), "ASC", last_size + 1)
        newest_first = rows[:last_size][::-1]
        return _window(newest_first, convert, total, len(rows) > last_size, False, mode)
    rows = _rows(conn, query, "", (), "DESC", size + 1)
    return _window(rows[:size], convert, total, False, len(rows) > size, Mode.FIRST)


def _window(
    rows: list[Row],
    convert: Callable[[Row], T],
    total: int,
    has_newer: bool,
    has_older: bool,
    mode: Mode,
) -> Window[T]:
    items = tuple(convert(row) for row in rows)
    # A cached total can lag behind new rows: never report fewer than are visibly there.
    return Window(items, max(total, len(items)), has_newer, has_older, mode)
