"""The database over the wire: the bot's `Database` against a local Hrana 3 server
(`tests/fakes/hrana/`) as it would talk to Turso or sqld, including when the server
misbehaves, and as an embedded replica of it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.services.quota import QuotaLedger
from bot.settings import load_settings
from storage import meta
from storage.db import Database, DatabaseConfig, DatabaseError
from storage.migrate import load_migrations, migrate, schema_version
from tests.conftest import HRANA_TOKEN
from tests.fakes.hrana import Fault, HranaServer
from tests.support.worker_ops import replica_sync, write_then_read_back

ROOT = Path(__file__).resolve().parents[2]
WALLET = "0x000000000000000000000000000000000000bEEF"
FAULT_CALL_TIMEOUT = 0.5


CLIENTS = ("hrana", "libsql")  # TURSO_CLIENT: ours (storage/hrana_http.py) and the SDK


def remote(server: HranaServer, client: str = "hrana", **options: Any) -> DatabaseConfig:
    return DatabaseConfig(url=server.url, auth_token=HRANA_TOKEN, remote_client=client, **options)


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(hrana_server: HranaServer, client: str) -> AsyncIterator[Database]:
    """A migrated remote database."""
    database = Database(remote(hrana_server, client))
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


def on_server(server: HranaServer, sql: str) -> list[tuple[object, ...]]:
    """Read the server's own SQLite file, bypassing the protocol."""
    with closing(sqlite3.connect(server.path)) as conn:
        return conn.execute(sql).fetchall()


# --- opening, as the bot does ------------------------------------------------------------
async def test_the_bot_settings_open_and_migrate_the_remote_database(
    hrana_server: HranaServer, client: str
) -> None:
    settings = load_settings(
        _env_file=None,
        database_url=hrana_server.url,
        turso_auth_token=HRANA_TOKEN,
        turso_client=client,
    )
    config = settings.database_config()
    assert config.mode == "remote" and HRANA_TOKEN not in repr(config)
    database = Database(config)
    await database.open()
    try:
        assert await migrate(database) == [m.version for m in load_migrations()]
        assert await database.transaction(write_then_read_back, "k") == "v"
    finally:
        await database.close()
    # The data lives in the server's file, and every request carried the token.
    assert ("k", "v") in on_server(hrana_server, "SELECT key, value FROM bot_meta")
    tables = {r[0] for r in on_server(hrana_server, "SELECT name FROM sqlite_master")}
    assert {"lora_trainings", "generated_images", "schema_migrations"} <= tables
    assert {r.headers.get("authorization") for r in hrana_server.requests} == {
        f"Bearer {HRANA_TOKEN}"
    }
    # BEGIN IMMEDIATE … COMMIT spanned several HTTP requests on one stream (one baton chain).
    kinds = hrana_server.pipeline_requests()
    step = "execute" if client == "hrana" else "batch"
    assert [step, "get_autocommit"] in kinds  # a statement inside the open transaction
    assert [step, "get_autocommit", "close"] in kinds  # COMMIT closes the stream


async def test_the_client_follows_the_base_url_a_server_gives_its_stream(
    hrana_server: HranaServer, client: str
) -> None:
    # Servers may pin a stream to one host ("sticky" streams) through `base_url`.
    hrana_server.advertise_base_url = hrana_server.url.replace("127.0.0.1", "localhost")
    database = Database(remote(hrana_server, client))
    await database.open()
    try:
        await migrate(database)
        assert await database.transaction(write_then_read_back, "sticky") == "v"
    finally:
        await database.close()
    hosts = [r.headers["host"].split(":")[0] for r in hrana_server.requests]
    assert hosts[0] == "127.0.0.1" and "localhost" in hosts


async def test_a_wrong_token_is_refused_at_open(hrana_server: HranaServer, client: str) -> None:
    config = DatabaseConfig(url=hrana_server.url, auth_token="not-the-token", remote_client=client)
    database = Database(config)
    with pytest.raises(DatabaseError, match=r"refused the auth token \(HTTP 401\)") as refused:
        await database.open()
    assert "not-the-token" not in str(refused.value)
    assert not database.is_open


async def test_nothing_listening_fails_at_open(client: str) -> None:
    database = Database(
        DatabaseConfig(url="http://127.0.0.1:9", auth_token="t", remote_client=client)
    )
    with pytest.raises(DatabaseError, match="did not answer as a libSQL server"):
        await database.open()


# --- the server misbehaves -----------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["/v3/pipeline", "/v3/cursor"])
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(Fault("sql_error"), "database is locked", id="sqlite-busy"),
        pytest.param(Fault("http_error", status=500), "status=500 Internal Server Error", id="500"),
        pytest.param(Fault("http_error", status=503), "status=503", id="503"),
        pytest.param(Fault("malformed"), "json error", id="malformed-json"),
        pytest.param(Fault("drop"), "connection closed before message completed", id="dropped"),
    ],
)
async def test_server_errors_become_database_errors_and_the_next_call_works(
    db: Database, hrana_server: HranaServer, fault: Fault, reason: str, endpoint: str, client: str
) -> None:
    if client == "hrana" and endpoint == "/v3/cursor":
        pytest.skip("our client sends everything to /v3/pipeline")
    pid = db.worker_pid
    fault = hrana_server.inject(replace(fault, path=endpoint))
    if client == "hrana" and fault.kind == "drop":
        # Ours sends a read whose connection dropped once more (a write it does not:
        # tests/integration/test_hrana_client.py).
        assert await db.fetchone("SELECT COUNT(*) AS n FROM bot_meta") == {"n": 0}
    else:
        with pytest.raises(DatabaseError, match=reason):
            await db.fetchone("SELECT COUNT(*) AS n FROM bot_meta")
    assert fault.times == 0  # the fault was met
    assert await db.fetchone("SELECT COUNT(*) AS n FROM bot_meta") == {"n": 0}
    assert db.worker_pid == pid  # an answered error needs no new worker


async def test_an_answer_lost_after_a_write_fails_the_call_and_the_next_works(
    db: Database, hrana_server: HranaServer, client: str
) -> None:
    # The server ran the INSERT, then the connection dropped before the answer: the call
    # fails although the row is there (as after any network loss), and the connection,
    # whose baton the server has moved on from, is replaced before the next call.
    request = "execute" if client == "hrana" else "batch"
    hrana_server.inject(Fault("drop_after", match="INSERT INTO bot_meta", request=request))
    with pytest.raises(DatabaseError, match="connection closed"):
        await meta.put(db, "lost", "answer")
    assert await meta.get(db, "lost") == "answer"
    await meta.put(db, "next", "works")
    assert await meta.get(db, "next") == "works"


async def test_a_hung_server_times_out_and_the_next_call_works(
    hrana_server: HranaServer, client: str
) -> None:
    database = Database(remote(hrana_server, client), call_timeout=FAULT_CALL_TIMEOUT)
    await database.open()
    try:
        pid = database.worker_pid
        fault = hrana_server.inject(Fault("delay", seconds=30, match="FROM hung_table"))
        started = asyncio.get_running_loop().time()
        with pytest.raises(DatabaseError, match=r"did not answer within 0.5 s"):
            await database.fetchall("SELECT * FROM hung_table")
        assert asyncio.get_running_loop().time() - started < FAULT_CALL_TIMEOUT + 1
        assert fault.times == 0  # it was the server that hung
        assert await database.ping()
        assert database.worker_pid not in (None, pid)  # the stuck worker was replaced
    finally:
        await database.close()


async def test_a_transaction_left_by_a_dead_worker_is_rolled_back_when_its_stream_expires(
    tmp_path: Path, client: str
) -> None:
    # The worker dies mid-transaction (killed after a timeout, or crashed): the server
    # still holds that stream's write lock until the stream expires (sqld: 10 s idle),
    # then rolls it back.
    with HranaServer(tmp_path / "p.db", auth_token=HRANA_TOKEN, stream_ttl=0.5) as server:
        database = Database(remote(server, client))
        await database.open()
        try:
            await migrate(database)
            fault = server.inject(Fault("delay", seconds=30, match="SELECT value FROM bot_meta"))
            stuck = asyncio.create_task(database.transaction(write_then_read_back, "half"))
            while fault.times:  # until the transaction hangs on its last statement
                await asyncio.sleep(0.01)
            os.kill(database.worker_pid or 0, signal.SIGKILL)
            with pytest.raises(DatabaseError, match="worker stopped"):
                await stuck
            await meta.put(database, "after", "expiry")  # waits for the lock, then writes
            assert await meta.get(database, "half") is None
            assert await meta.get(database, "after") == "expiry"
        finally:
            await database.close()


async def test_an_idle_connection_is_renewed_before_its_stream_expires(tmp_path: Path) -> None:
    # libsql keeps a stream open after a query; servers expire it after idling, and the
    # client would then resend the dead baton forever (libsql-python#41).
    with HranaServer(tmp_path / "p.db", auth_token=HRANA_TOKEN, stream_ttl=0.2) as server:
        renewing = Database(remote(server, "libsql", remote_idle_limit=0.1))
        late = Database(remote(server, "libsql", remote_idle_limit=60))
        for database in (renewing, late):
            await database.open()
        try:
            for database in (renewing, late):
                assert await database.ping()
            await asyncio.sleep(0.4)
            assert await renewing.fetchone("SELECT 1 AS x") == {"x": 1}
            # Renewed too late: that one call fails, the connection is replaced after it.
            with pytest.raises(DatabaseError, match="STREAM_EXPIRED"):
                await late.fetchone("SELECT 1 AS x")
            assert await late.fetchone("SELECT 1 AS x") == {"x": 1}
        finally:
            for database in (renewing, late):
                await database.close()


# --- several processes on one server -----------------------------------------------------
RACE = """
import asyncio, sys
from datetime import UTC, datetime
from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from bot.services.quota import QuotaLedger, QuotaExceeded
async def main():
    db = Database(DatabaseConfig(url=sys.argv[1], auth_token=sys.argv[2], remote_client=sys.argv[4]))
    await db.open()
    print(len(await migrate(db)), flush=True)
    sys.stdin.readline()  # the parent uses seven of the eight batches meanwhile
    ledger = QuotaLedger(db, clock=lambda: datetime(2026, 11, 22, 12, 0, 1, tzinfo=UTC))
    async def one(i):
        try:
            await ledger.reserve(sys.argv[3], user_id=i, lora_id="l1", prompt="p")
            return 1
        except QuotaExceeded:
            return 0
    print(sum(await asyncio.gather(*(one(i) for i in range(10)))))
    await db.close()
asyncio.run(main())
"""


async def test_four_processes_migrate_once_then_race_for_the_last_slot(
    hrana_server: HranaServer, client: str
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, hrana_server.url, HRANA_TOKEN, WALLET, client],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    parent = Database(remote(hrana_server, client))
    try:
        # Four processes migrate one fresh database at once: one applies everything.
        applied = [await asyncio.to_thread(p.stdout.readline) for p in procs]  # type: ignore[union-attr]
        assert sorted(applied) == ["0\n", "0\n", "0\n", f"{len(load_migrations())}\n"]
        await parent.open()
        ledger = QuotaLedger(parent, clock=lambda: datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
        for _ in range(7):
            reservation = await ledger.reserve(WALLET, user_id=1, lora_id="l1", prompt="p")
            assert await ledger.complete(reservation, [])
        # Then 40 requests race for the one batch left, through BEGIN IMMEDIATE over HTTP.
        results = [await asyncio.to_thread(p.communicate, "go\n", 60) for p in procs]
        assert all(p.returncode == 0 for p in procs), results
        assert sum(int(out) for out, _ in results) == 1
        assert (await ledger.status(WALLET)).used == 8
    finally:
        for p in procs:
            p.kill()
        await parent.close()


# --- embedded replica ----------------------------------------------------------------------
async def test_an_embedded_replica_reads_locally_and_writes_through_the_primary(
    hrana_server: HranaServer, tmp_path: Path
) -> None:
    replica_path = tmp_path / "replica" / "bot.db"
    config = DatabaseConfig(
        url=f"file:{replica_path}", auth_token=HRANA_TOKEN, sync_url=hrana_server.url
    )
    other = Database(remote(hrana_server))
    replica = Database(config)
    await other.open()
    await replica.open()  # downloads the database (GET /info, /export/1)
    try:
        assert config.mode == "embedded-replica"
        # Migrations are writes: they run on the primary, then come back as WAL frames.
        assert await migrate(replica) == [m.version for m in load_migrations()]
        assert on_server(hrana_server, "SELECT MAX(version) FROM schema_migrations") == [
            (load_migrations()[-1].version,)
        ]
        assert await replica.transaction(write_then_read_back, "through") == "v"
        assert await meta.get(replica, "through") == "v"  # read your own write, locally

        before = len(hrana_server.requests)
        assert await schema_version(replica) == load_migrations()[-1].version
        assert len(hrana_server.requests) == before  # a plain read never left the machine

        # Someone else writes to the primary: the replica sees it after a sync.
        await meta.put(other, "elsewhere", "x")
        assert await meta.get(replica, "elsewhere") is None
        await replica.run(replica_sync)
        assert await meta.get(replica, "elsewhere") == "x"
    finally:
        await replica.close()
        await other.close()

    # Reopened, the replica keeps its file and only pulls what it has not seen.
    await meta_set_remote(hrana_server, "while-closed", "y")
    reopened = Database(config)
    await reopened.open()
    try:
        assert await meta.get(reopened, "while-closed") == "y"
        assert not [r for r in hrana_server.requests[before:] if r.path.startswith("/export")]
    finally:
        await reopened.close()
    assert replica_path.with_name("bot.db-info").is_file()


async def meta_set_remote(server: HranaServer, key: str, value: str) -> None:
    database = Database(remote(server))
    await database.open()
    try:
        await meta.put(database, key, value)
    finally:
        await database.close()


async def test_a_replica_syncs_in_the_background_and_survives_reconnects(
    hrana_server: HranaServer, tmp_path: Path
) -> None:
    config = DatabaseConfig(
        url=f"file:{tmp_path / 'replica.db'}",
        auth_token=HRANA_TOKEN,
        sync_url=hrana_server.url,
        sync_interval=0.1,  # TURSO_SYNC_INTERVAL
    )
    replica = Database(config)
    await replica.open()
    try:
        await migrate(replica)
        pulls = sum(r.path.startswith("/sync/") for r in hrana_server.requests)
        await meta_set_remote(hrana_server, "pushed", "z")
        for _ in range(40):  # no explicit sync: libsql's own interval pulls it in
            if await meta.get(replica, "pushed") == "z":
                break
            await asyncio.sleep(0.05)
        assert await meta.get(replica, "pushed") == "z"
        assert sum(r.path.startswith("/sync/") for r in hrana_server.requests) > pulls
    finally:
        await replica.close()

    # An idle replica connection is replaced like a remote one (and syncs as it opens).
    renewing = Database(replace(config, sync_interval=None, remote_idle_limit=0.05))
    await renewing.open()
    try:
        for i in range(3):
            await asyncio.sleep(0.1)
            await meta.put(renewing, f"k{i}", "v")
            assert await meta.get(renewing, f"k{i}") == "v"
    finally:
        await renewing.close()


async def test_a_replica_with_a_wrong_token_is_refused_at_open(
    hrana_server: HranaServer, tmp_path: Path
) -> None:
    config = DatabaseConfig(
        url=f"file:{tmp_path / 'r.db'}", auth_token="wrong", sync_url=hrana_server.url
    )
    with pytest.raises(DatabaseError, match=r"refused the auth token \(HTTP 401\)"):
        await Database(config).open()
