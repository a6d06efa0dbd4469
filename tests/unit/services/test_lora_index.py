"""The in-memory autocomplete index: the same answers as the database's suggest, fresh
across processes (another `Database`, the web app's raw SQL) through the change log."""

from __future__ import annotations

import asyncio
import random

from bot.services.lora_index import LoraIndex
from storage import loras
from storage.db import Connection, Database, DatabaseConfig
from tests.support.gallery_rows import WALLET_A, WALLET_B, insert_loras, lora_row

WORDS = [
    "sks style",
    "Neon Cat",
    "neon-dog",
    "ab",
    "a_b",
    "50%off",
    "CAFÉ",
    "café au lait",
    'quiet"owl',
    "zebra",
    "Zeb",
    "ZEBRAS",
    "x",
    "neon",
    "Neonate",
    "eon",
]
TYPED = [
    "",
    "n",
    "ne",
    "NEON",
    "eon",
    "zeb",
    "EBRA",
    "ca",
    "café",
    "CAFÉ",
    "afé",
    "a_b",
    "%",
    "_",
    'et"o',
    "sks  style",
    "nothing-here",
    "ab",
    "x",
    "e",
    "  a  ",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_answers_match_the_database_suggest(db: Database) -> None:
    rng = random.Random(3)
    rows = [
        lora_row(
            minutes=n % 40,
            trigger_word=rng.choice(WORDS),
            wallet=rng.choice([WALLET_A, WALLET_B]),
            status=rng.choice(["completed", "completed", "pending"]),
        )
        for n in range(150)
    ]
    # Web-app ids (upper-case hex) beside the bot's lower-case ones.
    rows += [lora_row(minutes=50 + n, lora_id=f"ABCD{n:028X}") for n in range(3)]
    await insert_loras(db, rows)
    index = LoraIndex(db)
    typed = [*TYPED, rows[0]["id"][:6], rows[1]["id"][:5].upper(), "abcd", "ABCD0"]
    for text in typed:
        for limit in (1, 5, 25):
            assert await index.suggest(text, limit) == await loras.suggest(db, text, limit), (
                text,
                limit,
            )


def op_web_app_writes(conn: Connection) -> None:
    conn.execute(
        "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, steps, "
        "image_urls, status, created_at) VALUES ('F00D0000000000000000000000000001', 'r-web', "
        "?, 'webapp-word', 1000, '[]', 'completed', '2026-06-01T00:00:00.000Z')",
        (WALLET_B,),
    )
    conn.execute("UPDATE lora_trainings SET trigger_word = 'renamed' WHERE trigger_word = 'old'")
    conn.execute("DELETE FROM lora_trainings WHERE trigger_word = 'doomed'")
    conn.execute("UPDATE lora_trainings SET status = 'completed' WHERE trigger_word = 'late'")


async def test_writes_from_another_process_show_after_the_check(
    db: Database, db_config: DatabaseConfig
) -> None:
    await insert_loras(
        db,
        [
            lora_row(minutes=1, trigger_word="old"),
            lora_row(minutes=2, trigger_word="doomed"),
            lora_row(minutes=3, trigger_word="late", status="pending"),
        ],
    )
    clock = FakeClock()
    index = LoraIndex(db, check_seconds=2.0, clock=clock)
    assert [c.trigger_word for c in await index.suggest("")] == ["doomed", "old"]

    other = Database(db_config)  # another bot process, or the web app: its own connection
    await other.open()
    try:
        await other.transaction(op_web_app_writes)
    finally:
        await other.close()

    clock.now = 1.0  # within check_seconds: the answer is what the index holds
    assert [c.trigger_word for c in await index.suggest("")] == ["doomed", "old"]
    clock.now = 2.5  # past it: this use starts the check and does not wait for it
    await index.suggest("")
    for _ in range(200):
        words = [c.trigger_word for c in index.suggest_now("")]
        if words != ["doomed", "old"]:
            break
        await asyncio.sleep(0.01)
    assert words == ["webapp-word", "late", "renamed"]
    assert await index.suggest("rena") == await loras.suggest(db, "rena")
    assert await index.suggest("f00d") == await loras.suggest(db, "f00d")
    assert index.suggest_now("doomed") == []


async def test_a_log_pruned_past_the_index_reloads_everything(db: Database) -> None:
    clock = FakeClock()
    index = LoraIndex(db, clock=clock)
    await insert_loras(db, [lora_row(minutes=1, trigger_word="first")])
    assert [c.trigger_word for c in await index.suggest("")] == ["first"]
    await insert_loras(db, [lora_row(minutes=n, trigger_word=f"w{n}") for n in range(2, 6)])
    await db.execute("DELETE FROM lora_changes WHERE seq < (SELECT MAX(seq) FROM lora_changes)")
    await index.refresh()
    assert [c.trigger_word for c in index.suggest_now("")] == ["w5", "w4", "w3", "w2", "first"]


async def test_too_many_loras_are_asked_of_the_database(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=n, trigger_word=f"neon{n}") for n in range(6)])
    index = LoraIndex(db, max_entries=3)
    assert await index.suggest("neon") == await loras.suggest(db, "neon")
    assert index.suggest_now("neon") == []  # nothing held in memory


async def test_the_change_log_keeps_only_the_newest_entries(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=n % 50) for n in range(10_050)])
    row = await db.fetchone(
        "SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM lora_changes"
    )
    assert row is not None and row["n"] == 10_000 and row["hi"] - row["lo"] == 9_999


async def test_warm_loads_before_anyone_types(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=1, trigger_word="neon cat")])
    index = LoraIndex(db)
    snapshots = 0
    real = index.refresh

    async def counted() -> None:
        nonlocal snapshots
        snapshots += 1
        await real()

    index.refresh = counted  # type: ignore[method-assign]
    index.warm()
    # A suggestion asked while the load runs waits for that load, not a second one.
    choices = await index.suggest("neon")
    assert [c.trigger_word for c in choices] == ["neon cat"]
    assert snapshots == 1
    assert index.suggest_now("neo") == choices
    await index.aclose()
