"""The database layer: one worker process, calls pipelined from the loop, migrations once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage import meta
from storage.db import Connection, Database, DatabaseConfig, DatabaseError
from storage.migrate import Migration, load_migrations, migrate, schema_version

ROOT = Path(__file__).resolve().parents[3]


async def test_file_url_creates_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "bot.db"
    database = Database(DatabaseConfig(url=f"file:{target}"))
    await database.open()
    try:
        assert await migrate(database) == [m.version for m in load_migrations()]
    finally:
        await database.close()
    assert target.is_file()


async def test_migrations_are_idempotent(db: Database) -> None:
    assert await migrate(db) == []
    assert await schema_version(db) == load_migrations()[-1].version


def worker_pid(_: Connection) -> int:
    return os.getpid()


def write_then_fail(conn: Connection) -> None:
    conn.execute("INSERT INTO bot_meta (key, value, updated_at) VALUES ('k', 'v', 'now')")
    raise RuntimeError("boom")


def sleep_in_worker(_: Connection, seconds: float) -> None:
    time.sleep(seconds)


async def test_every_call_runs_in_one_worker_process(db: Database) -> None:
    seen = {await db.run(worker_pid) for _ in range(20)}
    assert seen == {db.worker_pid}
    assert os.getpid() not in seen


async def test_slow_query_does_not_block_the_event_loop(db: Database) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    # A deliberately slow query (a few hundred ms of pure SQLite work).
    row = await db.fetchone(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000) "
        "SELECT COUNT(*) AS c FROM n"
    )
    elapsed = time.perf_counter() - started
    task.cancel()
    assert row == {"c": 3000000}
    # Had the loop been blocked, the ticker could not have run during the query.
    assert ticks >= max(3, int(elapsed / 0.005 * 0.2))


async def test_engine_errors_become_database_errors(db: Database) -> None:
    with pytest.raises(DatabaseError, match="no such table"):
        await db.fetchall("SELECT * FROM no_such_table")
    assert await db.ping()


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(DatabaseError, match="boom"):
        await db.transaction(write_then_fail)
    assert await meta.get(db, "k") is None


async def test_failed_migration_applies_nothing(db: Database) -> None:
    broken = Migration(
        999, "broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO nowhere VALUES (1);\n"
    )
    with pytest.raises(DatabaseError):
        await migrate(db, [*load_migrations(), broken])
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'half_done'") is None
    assert await schema_version(db) == load_migrations()[-1].version


def test_statement_splitter_keeps_triggers_whole() -> None:
    sql = (
        "-- comment; with a semicolon\n"
        "CREATE TABLE a (x TEXT DEFAULT 'x;y');\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 'z';\nEND;\n"
    )
    statements = Migration(1, "m", sql).statements()
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


async def test_closed_database_refuses_calls(tmp_path: Path) -> None:
    database = Database(DatabaseConfig(url=f"file:{tmp_path / 'x.db'}"))
    with pytest.raises(DatabaseError, match="not open"):
        await database.fetchall("SELECT 1")
    assert not await database.ping()


MIGRATE_SCRIPT = """
import asyncio, sys
from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
async def main():
    db = Database(DatabaseConfig(url="file:" + sys.argv[1]))
    await db.open()
    print(",".join(map(str, await migrate(db))))
    await db.close()
asyncio.run(main())
"""


def test_two_processes_migrate_one_database_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_SCRIPT, str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    applied = [out.strip() for out, _ in outputs]
    everything = ",".join(str(m.version) for m in load_migrations())
    # Exactly one process applied the migrations; the others found them done.
    assert sorted(applied) == ["", "", everything]


async def test_lambdas_are_refused_with_a_clear_error(db: Database) -> None:
    with pytest.raises(TypeError, match="module-level functions"):
        await db.run(lambda conn: None)  # type: ignore[arg-type,return-value]
    assert await db.ping()


async def test_a_hung_call_times_out_and_the_worker_restarts(tmp_path: Path) -> None:
    database = Database(DatabaseConfig(url=f"file:{tmp_path / 'x.db'}"), call_timeout=0.5)
    await database.open()
    try:
        first = database.worker_pid
        with pytest.raises(DatabaseError, match="did not answer"):
            await database.run(sleep_in_worker, 5.0)
        assert await database.ping()
        assert database.worker_pid not in (None, first)
    finally:
        await database.close()


async def test_a_killed_worker_is_replaced(db: Database) -> None:
    pid = db.worker_pid
    assert pid is not None
    os.kill(pid, 9)
    await asyncio.sleep(0.1)
    assert await db.ping()
    assert db.worker_pid != pid


def echo_after(_: Connection, value: int, seconds: float) -> tuple[int, int]:
    time.sleep(seconds)
    return value, os.getpid()


async def test_concurrent_calls_are_pipelined_and_answered_in_order(db: Database) -> None:
    # Many calls in flight at once on one worker: each gets its own answer, even when
    # the first is slow and the rest wait behind it.
    answers = await asyncio.gather(
        db.run(echo_after, 0, 0.2), *(db.run(echo_after, n, 0.0) for n in range(1, 300))
    )
    assert [value for value, _ in answers] == list(range(300))
    assert {pid for _, pid in answers} == {db.worker_pid}


async def test_a_large_call_and_answer_cross_the_pipe(db: Database) -> None:
    blob = "x" * 300_000  # bigger than a socket buffer, both ways
    row = await db.fetchone("SELECT ? AS blob, length(?) AS n", (blob, blob))
    assert row == {"blob": blob, "n": 300_000}


async def test_calls_queued_behind_a_hung_one_run_on_the_new_worker(tmp_path: Path) -> None:
    # The timeout counts from when a call reaches the worker: the hung call fails,
    # the ones behind it (never started) are resent to the replacement and succeed.
    database = Database(
        DatabaseConfig(url=f"file:{tmp_path / 'x.db'}"), call_timeout=2.0
    )  # roomy: a busy machine
    await database.open()
    try:
        first = database.worker_pid
        hung = asyncio.create_task(database.run(sleep_in_worker, 30.0))
        await asyncio.sleep(0.05)
        queued = [asyncio.create_task(database.run(echo_after, n, 0.0)) for n in range(5)]
        with pytest.raises(DatabaseError, match=r"did not answer within 2 s"):
            await hung
        answers = await asyncio.gather(*queued)
        assert [value for value, _ in answers] == list(range(5))
        assert {pid for _, pid in answers} == {database.worker_pid}
        assert database.worker_pid not in (None, first)
    finally:
        await database.close()


async def test_a_worker_killed_mid_call_fails_that_call_and_serves_the_queue(
    db: Database,
) -> None:
    pid = db.worker_pid
    assert pid is not None
    running = asyncio.create_task(db.run(sleep_in_worker, 3.0))
    await asyncio.sleep(0.2)  # the worker is inside the call
    queued = [asyncio.create_task(db.run(echo_after, n, 0.0)) for n in range(5)]
    os.kill(pid, 9)
    with pytest.raises(DatabaseError, match="worker stopped"):
        await running
    answers = await asyncio.gather(*queued)
    assert [value for value, _ in answers] == list(range(5))
    assert {p for _, p in answers} == {db.worker_pid} and db.worker_pid != pid


async def test_a_cancelled_caller_does_not_shift_the_answers(db: Database) -> None:
    slow = asyncio.create_task(db.run(echo_after, 1, 0.3))
    after = asyncio.create_task(db.run(echo_after, 2, 0.0))
    await asyncio.sleep(0.05)
    slow.cancel()
    assert (await after)[0] == 2
    assert (await db.run(echo_after, 3, 0.0))[0] == 3


# --- short reads in this process (`Database.read`) --------------------------------------
def where_and_count(conn: Connection) -> tuple[int, int]:
    row = conn.fetchone("SELECT COUNT(*) AS n FROM bot_meta WHERE key = 'seen'")
    assert row is not None
    return os.getpid(), int(row["n"])


def write_meta(conn: Connection, key: str) -> None:
    conn.execute("INSERT INTO bot_meta (key, value, updated_at) VALUES (?, 'v', 'now')", (key,))


def hold_write_lock(conn: Connection, seconds: float) -> None:
    """Runs in the worker: holds the file's exclusive lock, as a commit does."""
    conn.execute("BEGIN EXCLUSIVE")
    try:
        time.sleep(seconds)
    finally:
        conn.execute("ROLLBACK")


async def test_a_short_read_of_an_embedded_file_runs_here_and_sees_the_workers_writes(
    db: Database,
) -> None:
    # Remote (the other backend of this fixture): the worker, like any call.
    here = os.getpid() if db.config.mode == "embedded" else db.worker_pid
    assert await db.read(where_and_count) == (here, 0)
    await db.run(write_meta, "seen")  # committed by the worker
    assert await db.read(where_and_count) == (here, 1)


async def test_a_read_never_writes(db: Database) -> None:
    # Refused here, then asked of the worker, which does what any call does.
    await db.read(write_meta, "other")
    assert await db.fetchone("SELECT key FROM bot_meta WHERE key = 'other'") is not None


async def test_a_locked_file_sends_the_read_to_the_worker_without_blocking_the_loop(
    db: Database,
) -> None:
    await db.read(where_and_count)  # opens this process's reader
    held = asyncio.create_task(db.run(hold_write_lock, 0.5))
    await asyncio.sleep(0.2)  # the worker holds the lock now
    started = time.monotonic()
    pid, count = await db.read(where_and_count)  # queued behind the lock in the worker
    assert pid == db.worker_pid and count == 0
    assert time.monotonic() - started < 1.0
    await held


async def test_other_databases_read_through_the_worker(tmp_path: Path) -> None:
    database = Database(DatabaseConfig(url=":memory:"))
    await database.open()
    try:
        await migrate(database)
        pid, _ = await database.read(where_and_count)
        assert pid == database.worker_pid  # another connection would be another database
    finally:
        await database.close()
