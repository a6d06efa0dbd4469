"""The fake Hrana server's own checks, in plain HTTP: the parts of Hrana 3 that libsql
0.1.11 never sends (stored SQL, sequences, every batch condition, named arguments) and
the rules it must enforce (single-use batons, expiry, auth, one statement per `execute`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.hrana import HranaServer

TOKEN = "fake-token"


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with HranaServer(tmp_path / "fake.db", auth_token=TOKEN) as srv:
        yield srv


def call(
    server: HranaServer, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method="POST" if data else "GET")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def pipeline(server: HranaServer, baton: str | None, *requests: dict[str, Any]) -> Any:
    status, body = call(server, "/v3/pipeline", {"baton": baton, "requests": list(requests)})
    assert status == 200, body
    return body


def stmt(sql: str, *args: Any, **extra: Any) -> dict[str, Any]:
    return {"sql": sql, "args": list(args), **extra}


def integer(n: int) -> dict[str, str]:
    return {"type": "integer", "value": str(n)}


def test_values_round_trip_in_their_hrana_encodings(server: HranaServer) -> None:
    values = [
        {"type": "null"},
        integer(-(2**63)),
        {"type": "float", "value": 0.5},
        {"type": "text", "value": "é ✨"},
        {"type": "blob", "base64": "AAH/"},
    ]
    body = pipeline(
        server, None, {"type": "execute", "stmt": stmt("SELECT ?, ?, ?, ?, ?", *values)}
    )
    result = body["results"][0]["response"]["result"]
    assert result["rows"] == [values]
    assert result["cols"][0] == {"name": "?", "decltype": None}


def test_stored_sql_named_arguments_sequence_and_describe(server: HranaServer) -> None:
    body = pipeline(
        server,
        None,
        {"type": "sequence", "sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a');"},
        {"type": "store_sql", "sql_id": 7, "sql": "INSERT INTO t (v) VALUES (:v) RETURNING id"},
        {"type": "execute", "stmt": {"sql_id": 7, "named_args": [{"name": "v", "value": {"type": "text", "value": "b"}}]}},
        {"type": "close_sql", "sql_id": 7},
        {"type": "execute", "stmt": {"sql_id": 7}},
        {"type": "describe", "sql": "SELECT v AS value FROM t WHERE id = ?1 AND v = :v"},
        {"type": "close"},
    )  # fmt: skip
    kinds = [r["type"] for r in body["results"]]
    assert kinds == ["ok", "ok", "ok", "ok", "error", "ok", "ok"]
    inserted = body["results"][2]["response"]["result"]
    assert inserted["rows"] == [[integer(2)]] and inserted["last_insert_rowid"] == "2"
    described = body["results"][5]["response"]["result"]
    assert described == {
        "params": [{"name": "?1"}, {"name": ":v"}],
        "cols": [{"name": "value", "decltype": "TEXT"}],
        "is_explain": False,
        "is_readonly": True,
    }
    assert body["baton"] is None  # closed


def test_batch_conditions(server: HranaServer) -> None:
    steps = [
        {"stmt": stmt("SELECT 1")},  # 0 ok
        {"stmt": stmt("SELECT * FROM nowhere")},  # 1 error
        {"condition": {"type": "ok", "step": 1}, "stmt": stmt("SELECT 2")},  # skipped
        {"condition": {"type": "error", "step": 1}, "stmt": stmt("SELECT 3")},  # runs
        {"condition": {"type": "not", "cond": {"type": "ok", "step": 2}}, "stmt": stmt("SELECT 4")},
        {
            "condition": {"type": "and", "conds": [{"type": "ok", "step": 0}, {"type": "ok", "step": 1}]},
            "stmt": stmt("SELECT 5"),
        },  # skipped
        {
            "condition": {"type": "or", "conds": [{"type": "ok", "step": 0}, {"type": "ok", "step": 1}]},
            "stmt": stmt("SELECT 6"),
        },
        {"condition": {"type": "is_autocommit"}, "stmt": stmt("SELECT 7")},
    ]  # fmt: skip
    body = pipeline(server, None, {"type": "batch", "batch": {"steps": steps}})
    result = body["results"][0]["response"]["result"]
    ran = [r is not None for r in result["step_results"]]
    assert ran == [True, False, False, True, True, False, True, True]
    assert [e is not None for e in result["step_errors"]] == [False, True, *[False] * 6]
    assert "no such table: nowhere" in result["step_errors"][1]["message"]


def test_batons_are_single_use_and_streams_keep_their_transaction(server: HranaServer) -> None:
    first = pipeline(server, None, {"type": "sequence", "sql": "CREATE TABLE t (x); BEGIN;"})
    second = pipeline(
        server, first["baton"], {"type": "execute", "stmt": stmt("INSERT INTO t VALUES (1)")}
    )
    assert second["baton"] != first["baton"]
    status, refused = call(server, "/v3/pipeline", {"baton": first["baton"], "requests": []})
    assert status == 400 and "invalid baton" in refused["message"]
    third = pipeline(server, second["baton"], {"type": "get_autocommit"})
    assert third["results"][0]["response"] == {"type": "get_autocommit", "is_autocommit": False}
    assert server.open_streams == 1
    assert server.expire_streams() == 1  # as after idling too long: rolled back
    status, expired = call(server, "/v3/pipeline", {"baton": third["baton"], "requests": []})
    assert (status, expired["code"]) == (400, "STREAM_EXPIRED")
    count = pipeline(server, None, {"type": "execute", "stmt": stmt("SELECT COUNT(*) FROM t")})
    assert count["results"][0]["response"]["result"]["rows"] == [[integer(0)]]


def test_one_statement_per_execute_and_cursor_entries(server: HranaServer) -> None:
    body = pipeline(server, None, {"type": "execute", "stmt": stmt("SELECT 1; SELECT 2")})
    assert body["results"][0]["error"]["code"] == "SQL_MANY_STATEMENTS"
    status, raw = call(
        server,
        "/v3/cursor",
        {"baton": None, "batch": {"steps": [{"stmt": stmt("SELECT 1 AS a")}, {"stmt": stmt("x")}]}},
    )
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert status == 200 and lines[0]["baton"]
    assert [e["type"] for e in lines[1:]] == ["step_begin", "row", "step_end", "step_error"]
    assert lines[2] == {"type": "row", "row": [integer(1)]}


def test_auth_and_the_other_endpoints(server: HranaServer) -> None:
    assert call(server, "/v3/pipeline", {"baton": None, "requests": []}, token=None)[0] == 401
    assert call(server, "/info", token="wrong")[0] == 401
    assert call(server, "/v3")[0] == 200
    assert call(server, "/info") == (200, {"current_generation": 1})
    status, export = call(server, "/export/1")
    assert status == 200 and export[:16] == b"SQLite format 3\x00"
    pipeline(server, None, {"type": "execute", "stmt": stmt("CREATE TABLE t (x)")})
    status, frames = call(server, "/sync/1/1/100")
    assert status == 200 and len(frames) % (24 + 4096) == 0 and frames
    assert call(server, "/sync/1/100/200") == (400, {"generation": 1})
