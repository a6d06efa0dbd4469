"""The SQLite side of the fake Hrana server: the C API of the very library the standard
`sqlite3` module is built on, through `ctypes`.

Why not `sqlite3` itself: Hrana's `describe` must *prepare* a statement without running
it (column names, parameter names, read-only or not), and the client calls it before
every statement, inside open transactions too. The `sqlite3` module only prepares by
executing. The C API gives exactly what sqld (the real server, a thin layer over the
same API) answers. `ctypes` releases the GIL during each call, so a slow query on the
server thread never stalls the test's event loop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# SQLite constants (sqlite3.h)
_OK, _ROW, _DONE = 0, 100, 101
_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL = 1, 2, 3, 4, 5
_OPEN_READWRITE, _OPEN_CREATE, _OPEN_FULLMUTEX = 0x2, 0x4, 0x10000
_TRANSIENT = ctypes.c_void_p(-1)

_PRIMARY_CODES = {
    1: "ERROR", 2: "INTERNAL", 3: "PERM", 4: "ABORT", 5: "BUSY", 6: "LOCKED", 7: "NOMEM",
    8: "READONLY", 9: "INTERRUPT", 10: "IOERR", 11: "CORRUPT", 12: "NOTFOUND", 13: "FULL",
    14: "CANTOPEN", 15: "PROTOCOL", 16: "EMPTY", 17: "SCHEMA", 18: "TOOBIG",
    19: "CONSTRAINT", 20: "MISMATCH", 21: "MISUSE", 22: "NOLFS", 23: "AUTH", 24: "FORMAT",
    25: "RANGE", 26: "NOTADB",
}  # fmt: skip
_EXTENDED_CODES = {
    275: "CONSTRAINT_CHECK", 787: "CONSTRAINT_FOREIGNKEY", 1299: "CONSTRAINT_NOTNULL",
    1555: "CONSTRAINT_PRIMARYKEY", 2067: "CONSTRAINT_UNIQUE", 517: "BUSY_SNAPSHOT",
}  # fmt: skip


def code_name(rc: int) -> str:
    return "SQLITE_" + _EXTENDED_CODES.get(rc, _PRIMARY_CODES.get(rc & 0xFF, "ERROR"))


def _load() -> ctypes.CDLL:
    import _sqlite3  # the stdlib module's extension: resolve symbols through it first

    for candidate in (_sqlite3.__file__, ctypes.util.find_library("sqlite3")):
        if not candidate:
            continue
        lib = ctypes.CDLL(candidate)
        if hasattr(lib, "sqlite3_prepare_v2"):
            return lib
    raise RuntimeError("no SQLite library with the C API found")


_lib = _load()
_P, _I, _I64, _D, _S = (
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int64,
    ctypes.c_double,
    ctypes.c_char_p,
)
for _name, _res, _args in [
    ("sqlite3_open_v2", _I, [_S, ctypes.POINTER(_P), _I, _S]),
    ("sqlite3_close_v2", _I, [_P]),
    ("sqlite3_extended_result_codes", _I, [_P, _I]),
    ("sqlite3_busy_timeout", _I, [_P, _I]),
    ("sqlite3_prepare_v2", _I, [_P, _P, _I, ctypes.POINTER(_P), ctypes.POINTER(_P)]),
    ("sqlite3_step", _I, [_P]),
    ("sqlite3_finalize", _I, [_P]),
    ("sqlite3_column_count", _I, [_P]),
    ("sqlite3_column_name", _S, [_P, _I]),
    ("sqlite3_column_decltype", _S, [_P, _I]),
    ("sqlite3_column_type", _I, [_P, _I]),
    ("sqlite3_column_int64", _I64, [_P, _I]),
    ("sqlite3_column_double", _D, [_P, _I]),
    ("sqlite3_column_text", _P, [_P, _I]),
    ("sqlite3_column_blob", _P, [_P, _I]),
    ("sqlite3_column_bytes", _I, [_P, _I]),
    ("sqlite3_bind_null", _I, [_P, _I]),
    ("sqlite3_bind_int64", _I, [_P, _I, _I64]),
    ("sqlite3_bind_double", _I, [_P, _I, _D]),
    ("sqlite3_bind_text", _I, [_P, _I, _S, _I, _P]),
    ("sqlite3_bind_blob", _I, [_P, _I, _S, _I, _P]),
    ("sqlite3_bind_parameter_count", _I, [_P]),
    ("sqlite3_bind_parameter_name", _S, [_P, _I]),
    ("sqlite3_bind_parameter_index", _I, [_P, _S]),
    ("sqlite3_stmt_readonly", _I, [_P]),
    ("sqlite3_stmt_isexplain", _I, [_P]),
    ("sqlite3_changes", _I, [_P]),
    ("sqlite3_last_insert_rowid", _I64, [_P]),
    ("sqlite3_get_autocommit", _I, [_P]),
    ("sqlite3_errmsg", _S, [_P]),
    ("sqlite3_extended_errcode", _I, [_P]),
    ("sqlite3_interrupt", None, [_P]),
]:
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args


class SqlError(Exception):
    """An error to report to the client as a Hrana `Error` (message, code)."""

    def __init__(self, message: str, code: str = "SQLITE_ERROR") -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Described:
    params: list[str | None]
    cols: list[tuple[str, str | None]]
    is_explain: bool
    is_readonly: bool


@dataclass
class Executed:
    cols: list[tuple[str, str | None]]
    rows: list[list[Any]]
    affected_row_count: int
    last_insert_rowid: int
    duration_ms: float


def _text(raw: bytes | None) -> str | None:
    return raw.decode("utf-8", "replace") if raw is not None else None


class Database:
    """One SQLite connection. Not thread-safe by itself: the server holds a lock per stream."""

    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        handle = _P()
        flags = _OPEN_READWRITE | _OPEN_CREATE | _OPEN_FULLMUTEX
        rc = _lib.sqlite3_open_v2(path.encode(), ctypes.byref(handle), flags, None)
        self._db = handle
        if rc != _OK:
            message = _text(_lib.sqlite3_errmsg(handle)) or f"cannot open {path}"
            _lib.sqlite3_close_v2(handle)
            raise SqlError(message, code_name(rc))
        _lib.sqlite3_extended_result_codes(handle, 1)
        _lib.sqlite3_busy_timeout(handle, busy_timeout_ms)
        self._closed = threading.Event()

    # --- statements -------------------------------------------------------------------
    def _error(self, rc: int) -> SqlError:
        message = _text(_lib.sqlite3_errmsg(self._db)) or "unknown error"
        return SqlError(
            f"SQLite error: {message}", code_name(_lib.sqlite3_extended_errcode(self._db) or rc)
        )

    def _prepare(self, sql: bytes, offset: int = 0) -> tuple[int | None, int]:
        """Prepare the statement starting at byte `offset`; return (handle or None when only
        comments/space remain, offset of the rest)."""
        buffer = ctypes.create_string_buffer(sql)
        start = ctypes.addressof(buffer) + offset
        stmt, tail = _P(), _P()
        rc = _lib.sqlite3_prepare_v2(
            self._db, start, len(sql) - offset, ctypes.byref(stmt), ctypes.byref(tail)
        )
        if rc != _OK:
            raise self._error(rc)
        rest = (tail.value or start) - ctypes.addressof(buffer)
        return stmt.value, rest

    def _single(self, sql: str) -> int:
        raw = sql.encode()
        stmt, rest = self._prepare(raw)
        if stmt is None:
            raise SqlError("SQL string does not contain any statement", "SQL_NO_STATEMENT")
        try:
            extra, _ = self._prepare(raw, rest) if raw[rest:].strip() else (None, 0)
        except SqlError:
            extra = 0  # whatever follows is not even valid SQL: still a second statement
        if extra is not None:
            _lib.sqlite3_finalize(extra or None)
            _lib.sqlite3_finalize(stmt)
            raise SqlError("SQL string contains more than one statement", "SQL_MANY_STATEMENTS")
        return stmt

    def describe(self, sql: str) -> Described:
        stmt = self._single(sql)
        try:
            count = _lib.sqlite3_bind_parameter_count(stmt)
            return Described(
                params=[
                    _text(_lib.sqlite3_bind_parameter_name(stmt, i)) for i in range(1, count + 1)
                ],
                cols=self._columns(stmt),
                is_explain=_lib.sqlite3_stmt_isexplain(stmt) != 0,
                is_readonly=_lib.sqlite3_stmt_readonly(stmt) != 0,
            )
        finally:
            _lib.sqlite3_finalize(stmt)

    def execute(
        self,
        sql: str,
        args: Sequence[Any] = (),
        named: Sequence[tuple[str, Any]] = (),
        want_rows: bool = True,
    ) -> Executed:
        started = time.perf_counter()
        stmt = self._single(sql)
        try:
            self._bind(stmt, args, named)
            cols = self._columns(stmt)
            rows: list[list[Any]] = []
            while True:
                rc = _lib.sqlite3_step(stmt)
                if rc == _DONE:
                    break
                if rc != _ROW:
                    raise self._error(rc)
                if want_rows:
                    rows.append([self._value(stmt, i) for i in range(len(cols))])
            readonly = _lib.sqlite3_stmt_readonly(stmt) != 0
            return Executed(
                cols=cols,
                rows=rows,
                affected_row_count=0 if readonly else _lib.sqlite3_changes(self._db),
                last_insert_rowid=_lib.sqlite3_last_insert_rowid(self._db),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        finally:
            _lib.sqlite3_finalize(stmt)

    def sequence(self, sql: str) -> None:
        raw, offset = sql.encode(), 0
        while raw[offset:].strip():
            stmt, offset = self._prepare(raw, offset)
            if stmt is None:
                break
            try:
                while (rc := _lib.sqlite3_step(stmt)) == _ROW:
                    pass
                if rc != _DONE:
                    raise self._error(rc)
            finally:
                _lib.sqlite3_finalize(stmt)

    @property
    def is_autocommit(self) -> bool:
        return bool(_lib.sqlite3_get_autocommit(self._db))

    def interrupt(self) -> None:
        _lib.sqlite3_interrupt(self._db)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            _lib.sqlite3_close_v2(self._db)

    # --- helpers ------------------------------------------------------------------------
    @staticmethod
    def _columns(stmt: int) -> list[tuple[str, str | None]]:
        return [
            (
                _text(_lib.sqlite3_column_name(stmt, i)) or "",
                _text(_lib.sqlite3_column_decltype(stmt, i)),
            )
            for i in range(_lib.sqlite3_column_count(stmt))
        ]

    def _bind(self, stmt: int, args: Sequence[Any], named: Sequence[tuple[str, Any]]) -> None:
        count = _lib.sqlite3_bind_parameter_count(stmt)
        if len(args) > count:
            raise SqlError(
                f"{len(args)} arguments given, the statement takes {count}", "ARGS_INVALID"
            )
        bound = set()
        for index, value in enumerate(args, start=1):
            self._bind_one(stmt, index, value)
            bound.add(index)
        for name, value in named:
            candidates = [name] if name[:1] in ":@$?" else [p + name for p in ":@$"]
            index = next(
                (
                    i
                    for c in candidates
                    if (i := _lib.sqlite3_bind_parameter_index(stmt, c.encode()))
                ),
                0,
            )
            if not index:
                raise SqlError(f"the statement has no parameter named {name}", "ARGS_INVALID")
            self._bind_one(stmt, index, value)
            bound.add(index)
        missing = [i for i in range(1, count + 1) if i not in bound]
        if missing:
            raise SqlError(f"no value for parameter {missing[0]}", "ARGS_INVALID")

    def _bind_one(self, stmt: int, index: int, value: Any) -> None:
        if value is None:
            rc = _lib.sqlite3_bind_null(stmt, index)
        elif isinstance(value, bool | int):
            rc = _lib.sqlite3_bind_int64(stmt, index, int(value))
        elif isinstance(value, float):
            rc = _lib.sqlite3_bind_double(stmt, index, value)
        elif isinstance(value, str):
            data = value.encode()
            rc = _lib.sqlite3_bind_text(stmt, index, data, len(data), _TRANSIENT)
        elif isinstance(value, bytes):
            rc = _lib.sqlite3_bind_blob(stmt, index, value, len(value), _TRANSIENT)
        else:
            raise SqlError(f"cannot bind a {type(value).__name__}", "ARGS_INVALID")
        if rc != _OK:
            raise self._error(rc)

    @staticmethod
    def _value(stmt: int, i: int) -> Any:
        kind = _lib.sqlite3_column_type(stmt, i)
        if kind == _INTEGER:
            return _lib.sqlite3_column_int64(stmt, i)
        if kind == _FLOAT:
            return _lib.sqlite3_column_double(stmt, i)
        if kind == _NULL:
            return None
        pointer = (
            _lib.sqlite3_column_blob(stmt, i)
            if kind == _BLOB
            else _lib.sqlite3_column_text(stmt, i)
        )
        data = ctypes.string_at(pointer, _lib.sqlite3_column_bytes(stmt, i)) if pointer else b""
        return data if kind == _BLOB else data.decode("utf-8", "replace")


class WalFrames:
    """The committed frames of a WAL file, read the way SQLite's own recovery reads them:
    frames count only while their salts match the header and their running checksum holds,
    and the log ends at the last commit frame (one whose "database size" field is set).
    That is the unit the replica protocol ships (24-byte frame header + one page)."""

    HEADER, FRAME_HEADER = 32, 24

    def __init__(self, path: str) -> None:
        self.path = path
        self._salts: bytes | None = None
        self._page_size = 0
        self._valid = 0  # frames verified so far
        self._committed = 0  # frames up to the last verified commit frame
        self._sums = (0, 0)
        self._big_endian = False

    def committed(self) -> int:
        """How many frames are committed (frame numbers 1..n)."""
        try:
            with open(self.path, "rb") as wal:
                header = wal.read(self.HEADER)
                if len(header) < self.HEADER:
                    return 0
                magic, _, page_size = struct.unpack(">III", header[:12])
                if magic not in (0x377F0682, 0x377F0683):
                    return 0
                if header[16:24] != self._salts or page_size != self._page_size:
                    self._salts, self._page_size = header[16:24], page_size
                    self._big_endian = bool(magic & 1)
                    self._valid = self._committed = 0
                    self._sums = self._checksum(header[:24], (0, 0))
                    if self._sums != struct.unpack(">II", header[24:32]):
                        return 0
                size = self.FRAME_HEADER + page_size
                wal.seek(self.HEADER + self._valid * size)
                while len(frame := wal.read(size)) == size:
                    if frame[8:16] != self._salts:
                        break
                    sums = self._checksum(frame[:8] + frame[self.FRAME_HEADER :], self._sums)
                    if sums != struct.unpack(">II", frame[16:24]):
                        break
                    self._sums, self._valid = sums, self._valid + 1
                    if struct.unpack(">I", frame[4:8])[0]:
                        self._committed = self._valid
        except FileNotFoundError:
            return 0
        return self._committed

    def read(self, first: int, end: int) -> bytes:
        """Frames `first` (1-based) up to `end` (exclusive), committed ones only."""
        last = min(end - 1, self.committed())
        if first > last:
            return b""
        size = self.FRAME_HEADER + self._page_size
        with open(self.path, "rb") as wal:
            wal.seek(self.HEADER + (first - 1) * size)
            return wal.read((last - first + 1) * size)

    def _checksum(self, data: bytes, sums: tuple[int, int]) -> tuple[int, int]:
        s0, s1 = sums
        words = struct.unpack(f"{'>' if self._big_endian else '<'}{len(data) // 4}I", data)
        for i in range(0, len(words), 2):
            s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
            s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
        return s0, s1
