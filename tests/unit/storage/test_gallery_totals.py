"""The gallery's O(1) totals (migration 0035) and the trigram search (0036), kept by
triggers: they must agree with a plain COUNT(*) / LIKE after any writer's inserts,
status changes, renames and deletes, the web app's raw SQL included."""

from __future__ import annotations

import random

from storage import gallery_totals, loras, trigger_search
from storage.db import Connection, Database
from storage.keyset import Mode
from storage.loras import LoraFilter
from tests.support.gallery_rows import WALLET_A, WALLET_B, insert_loras, lora_row


def counted(conn: Connection, status: str) -> int:
    row = conn.fetchone("SELECT COUNT(*) AS n FROM lora_trainings WHERE status = ?", (status,))
    return int(row["n"]) if row else 0


def op_counted(conn: Connection, status: str) -> int:
    return counted(conn, status)


def op_web_app_writes(conn: Connection, seed: int) -> None:
    """What the web app does with its own SQL: insert, finish, fail, rename, delete."""
    rng = random.Random(seed)
    ids = [r["id"] for r in conn.fetchall("SELECT id FROM lora_trainings")]
    for n in range(40):
        action = rng.choice(["insert", "complete", "fail", "rename", "delete"])
        if action == "insert" or not ids:
            new = f"{rng.getrandbits(128):032X}"
            conn.execute(
                "INSERT INTO lora_trainings (id, request_id, wallet_address, trigger_word, "
                "steps, image_urls, status, created_at) VALUES (?, ?, ?, ?, 1000, '[]', ?, ?)",
                (
                    new,
                    f"req-{seed}-{n}",
                    WALLET_B,
                    rng.choice(["ab", "Zebra", "neon-cat"]),
                    rng.choice(["pending", "completed"]),
                    f"2026-03-01T00:00:{n:02d}.000Z",
                ),
            )
            ids.append(new)
        elif action == "delete":
            conn.execute(
                "DELETE FROM lora_trainings WHERE id = ?", (ids.pop(rng.randrange(len(ids))),)
            )
        elif action == "rename":
            conn.execute(
                "UPDATE lora_trainings SET trigger_word = ? WHERE id = ?",
                (rng.choice(["x", 'Quiet"Owl', "neon-dog", "ab"]), rng.choice(ids)),
            )
        else:
            status = "completed" if action == "complete" else "failed"
            conn.execute(
                "UPDATE lora_trainings SET status = ? WHERE id = ?", (status, rng.choice(ids))
            )


def op_search_index_agrees(conn: Connection) -> list[str]:
    """Ids the trigram index holds that differ from the table's (should be none)."""
    table = {
        (r["id"], r["trigger_word"])
        for r in conn.fetchall("SELECT id, trigger_word FROM lora_trainings")
    }
    index = [
        (r["id"], r["trigger_word"])
        for r in conn.fetchall("SELECT id, trigger_word FROM lora_trigger_search")
    ]
    return sorted(str(x) for x in set(index) ^ table) + (
        ["duplicates"] if len(index) != len(set(index)) else []
    )


async def test_totals_follow_every_writer(db: Database) -> None:
    await insert_loras(
        db,
        [lora_row(minutes=n, status="completed" if n % 3 else "pending") for n in range(30)],
    )
    for seed in range(3):
        await db.transaction(op_web_app_writes, seed)
        for status in ("completed", "pending", "failed"):
            assert await gallery_totals.total(db, status) == await db.run(op_counted, status)
    assert await db.run(op_search_index_agrees) == []


async def test_the_unfiltered_page_reports_the_kept_total(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=n) for n in range(7)])
    await insert_loras(db, [lora_row(minutes=50, status="pending")])
    first = await loras.gallery_window(db, LoraFilter(), mode=Mode.FIRST, anchor_id=None, size=3)
    assert first.total == 7 and len(first.items) == 3
    last = await loras.gallery_window(db, LoraFilter(), mode=Mode.LAST, anchor_id=None, size=3)
    assert len(last.items) == 1 and not last.has_older  # 7 = 3 + 3 + 1
    # The total is the kept one, not a COUNT(*): a (deliberately wrong) kept value shows.
    await db.execute("UPDATE lora_status_totals SET n = 100 WHERE status = 'completed'")
    again = await loras.gallery_window(db, LoraFilter(), mode=Mode.FIRST, anchor_id=None, size=3)
    assert again.total == 100
    creator = LoraFilter(wallet=WALLET_A)  # filtered views still count their rows
    assert (
        await loras.gallery_window(db, creator, mode=Mode.FIRST, anchor_id=None, size=3)
    ).total == 7


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
]


async def test_search_through_the_index_finds_exactly_what_like_finds(db: Database) -> None:
    rng = random.Random(7)
    rows = [
        lora_row(
            minutes=n,
            trigger_word=rng.choice(WORDS),
            wallet=rng.choice([WALLET_A, WALLET_B]),
            status=rng.choice(["completed", "completed", "pending"]),
        )
        for n in range(120)
    ]
    await insert_loras(db, rows)
    for text in [
        "neon",
        "NEON",
        "eon",
        "zeb",
        "EBRA",
        "ca",
        "café",
        "CAFÉ",
        "afé",
        "a_b",
        "%of",
        'et"o',
        "sks style",
        "nothing-here",
        "ab",
        "x",
    ]:
        for wallet in (None, WALLET_B):
            flt = LoraFilter(wallet=wallet, search=text)
            expected = sorted(
                (
                    r
                    for r in rows
                    if r["status"] == "completed"
                    and (wallet is None or r["wallet_address"] == wallet)
                    and _like(text, r["trigger_word"])
                ),
                key=lambda r: (r["created_at"], r["id"]),
                reverse=True,
            )
            got: list[str] = []
            page = await loras.gallery_window(db, flt, mode=Mode.FIRST, anchor_id=None, size=4)
            got += [lo.id for lo in page.items]
            while page.has_older:
                page = await loras.gallery_window(
                    db, flt, mode=Mode.OLDER, anchor_id=page.items[-1].id, size=4
                )
                got += [lo.id for lo in page.items]
            assert got == [r["id"] for r in expected], (text, wallet)
            assert page.total == len(expected), (text, wallet)


def _like(text: str, word: str) -> bool:
    """SQLite's LIKE: case folded for ASCII letters only."""
    return text.translate(_ASCII_LOWER) in word.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def op_candidates(conn: Connection, text: str, cap: int) -> list[str] | None:
    return trigger_search.in_db_candidates(conn, text, cap)


async def test_the_index_is_used_only_when_it_can_say_cheaply(db: Database) -> None:
    await insert_loras(db, [lora_row(minutes=n, trigger_word=f"neon{n}") for n in range(10)])
    assert await db.run(op_candidates, "ne", 100) is None  # no trigram under 3 characters
    assert await db.run(op_candidates, "neon", 5) is None  # too many candidates
    assert len(await db.run(op_candidates, "neon", 100) or []) == 10
    assert await db.run(op_candidates, "nothing", 100) == []
