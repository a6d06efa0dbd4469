"""Hrana 3 stream requests on one stream (one SQLite connection): values, statements,
batches with conditions, cursor entries, stored SQL, `describe`, `get_autocommit`."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.hrana.sqlite import Database, Executed, SqlError

RUNS_SQL = {"execute", "batch", "sequence", "describe"}


@dataclass(eq=False)
class Stream:
    """A Hrana stream: one SQLite connection, kept while the client holds its baton."""

    db: Database
    lock: threading.Lock = field(default_factory=threading.Lock)
    sqls: dict[int, str] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)
    closed: bool = False


def encode_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, bytes):
        # Unpadded, as sqld writes it (the client accepts both).
        return {"type": "blob", "base64": base64.b64encode(value).decode().rstrip("=")}
    return {"type": "text", "value": value}


def decode_value(raw: dict[str, Any]) -> Any:
    kind = raw.get("type")
    try:
        if kind == "null":
            return None
        if kind == "integer":
            number = int(raw["value"])
            if not -(2**63) <= number < 2**63:
                raise SqlError(f"integer out of range: {number}", "ARGS_INVALID")
            return number
        if kind == "float":
            return float(raw["value"])
        if kind == "text":
            return str(raw["value"])
        if kind == "blob":
            text = str(raw["base64"]).rstrip("=")
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise SqlError(f"invalid {kind} value: {exc}", "ARGS_INVALID") from exc
    raise SqlError(f"unknown value type {kind!r}", "ARGS_INVALID")


def stmt_result(done: Executed) -> dict[str, Any]:
    return {
        "cols": [{"name": n, "decltype": d} for n, d in done.cols],
        "rows": [[encode_value(v) for v in row] for row in done.rows],
        "affected_row_count": done.affected_row_count,
        "last_insert_rowid": str(done.last_insert_rowid),
        "rows_read": len(done.rows),
        "rows_written": done.affected_row_count,
        "query_duration_ms": done.duration_ms,
    }


def error(exc: SqlError) -> dict[str, str]:
    return {"message": exc.message, "code": exc.code}


def run_request(stream: Stream, request: dict[str, Any]) -> dict[str, Any]:
    kind = request.get("type")
    db = stream.db
    if kind == "execute":
        return {"type": "execute", "result": stmt_result(_run(stream, request["stmt"]))}
    if kind == "batch":
        return {"type": "batch", "result": run_batch(stream, request["batch"])}
    if kind == "sequence":
        db.sequence(_sql(stream, request))
        return {"type": "sequence"}
    if kind == "describe":
        d = db.describe(_sql(stream, request))
        return {
            "type": "describe",
            "result": {
                "params": [{"name": name} for name in d.params],
                "cols": [{"name": n, "decltype": t} for n, t in d.cols],
                "is_explain": d.is_explain,
                "is_readonly": d.is_readonly,
            },
        }
    if kind == "store_sql":
        stream.sqls[int(request["sql_id"])] = str(request["sql"])
        return {"type": "store_sql"}
    if kind == "close_sql":
        stream.sqls.pop(int(request["sql_id"]), None)
        return {"type": "close_sql"}
    if kind == "get_autocommit":
        return {"type": "get_autocommit", "is_autocommit": db.is_autocommit}
    if kind == "close":
        stream.closed = True
        return {"type": "close"}
    raise SqlError(f"unknown request type {kind!r}", "PROTOCOL")


def _sql(stream: Stream, holder: dict[str, Any]) -> str:
    if holder.get("sql") is not None:
        return str(holder["sql"])
    sql_id = holder.get("sql_id")
    if sql_id is None or int(sql_id) not in stream.sqls:
        raise SqlError(f"no SQL text stored as {sql_id}", "SQL_NOT_FOUND")
    return stream.sqls[int(sql_id)]


def _run(stream: Stream, stmt: dict[str, Any]) -> Executed:
    args = [decode_value(v) for v in stmt.get("args") or ()]
    named = [(a["name"], decode_value(a["value"])) for a in stmt.get("named_args") or ()]
    want_rows = stmt.get("want_rows")
    return stream.db.execute(_sql(stream, stmt), args, named, want_rows is not False)


def run_batch(
    stream: Stream, batch: dict[str, Any], entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Run a batch; with `entries`, also describe it as cursor entries."""
    steps = batch.get("steps", [])
    results: list[dict[str, Any] | None] = [None] * len(steps)
    errors: list[dict[str, str] | None] = [None] * len(steps)
    outcome: dict[int, bool] = {}
    for i, step in enumerate(steps):
        condition = step.get("condition")
        if condition is not None and not _holds(stream, condition, outcome):
            continue
        try:
            done = _run(stream, step["stmt"])
        except SqlError as exc:
            errors[i], outcome[i] = error(exc), False
            if entries is not None:
                entries.append({"type": "step_error", "step": i, "error": error(exc)})
            continue
        result = results[i] = stmt_result(done)
        outcome[i] = True
        if entries is not None:
            cols = [{"name": n, "decltype": d} for n, d in done.cols]
            entries.append({"type": "step_begin", "step": i, "cols": cols})
            entries.extend({"type": "row", "row": row} for row in result["rows"])
            entries.append(
                {
                    "type": "step_end",
                    "affected_row_count": done.affected_row_count,
                    "last_insert_rowid": str(done.last_insert_rowid),
                }
            )
    return {"step_results": results, "step_errors": errors}


def _holds(stream: Stream, cond: dict[str, Any], outcome: dict[int, bool]) -> bool:
    kind = cond.get("type")
    if kind == "ok":
        return outcome.get(int(cond["step"])) is True
    if kind == "error":
        return outcome.get(int(cond["step"])) is False
    if kind == "not":
        return not _holds(stream, cond["cond"], outcome)
    if kind == "and":
        return all(_holds(stream, c, outcome) for c in cond["conds"])
    if kind == "or":
        return any(_holds(stream, c, outcome) for c in cond["conds"])
    if kind == "is_autocommit":
        return stream.db.is_autocommit
    raise SqlError(f"unknown batch condition {kind!r}", "PROTOCOL")
