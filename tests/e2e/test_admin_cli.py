"""`lora-bot admin` as an operator runs it: `python -m bot admin …` in its own process,
against a database file prepared with the real storage functions (and, for `retry`,
the fake fal queue over HTTP)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.db import Database, DatabaseConfig
from storage.migrate import migrate
from tests.fakes.fal_training import FakeFalTraining
from tests.support import money_rows as rows

ROOT = Path(__file__).resolve().parents[2]
USER, OTHER = 111, 222
WALLET = "0x000000000000000000000000000000000000bEEF"
OTHER_WALLET = "0x00000000000000000000000000000000000CAFE5"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
async def db_file(tmp_path: Path) -> AsyncIterator[tuple[Path, Database]]:
    path = tmp_path / "live.db"
    db = Database(DatabaseConfig(url=f"file:{path}"))
    await db.open()
    await migrate(db)
    try:
        yield path, db
    finally:
        await db.close()


async def admin(path: Path, *args: str, **env: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "admin",
        *args,
        cwd=path.parent,
        env={
            "PATH": os.environ.get("PATH", ""),
            # a checkout other than the installed one (a worktree) runs its own code
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
            "HOME": str(path.parent),
            "USER": "opsperson",
            "LOGNAME": "opsperson",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"file:{path}",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_listings_filters_and_json(db_file: tuple[Path, Database]) -> None:
    path, db = db_file
    await rows.paid_credit(db, USER, WALLET)
    _, credit, lora = await rows.submitted(db, USER, WALLET)
    await rows.finish(db, lora, "completed")
    await rows.paid_credit(db, OTHER, OTHER_WALLET)

    payments = await admin(path, "payments")
    assert payments.code == 0, payments.err
    header, *lines = payments.out.splitlines()
    assert header.split() == [
        "ID",
        "VERIFIED",
        "TX",
        "PAYER",
        "USER",
        "VALUE",
        "CREDIT",
        "CREDIT",
        "STATE",
    ]
    assert len(lines) == 2
    column = header.index("USER")  # aligned columns
    assert [line[column : column + 3] for line in lines] == [str(OTHER), str(USER)]  # newest first
    assert "0.001 ETH" in lines[1] and "consumed" in lines[1]
    assert credit.id not in payments.out and credit.id[:8] in payments.out  # short ids

    mine = await admin(path, "payments", "--wallet", WALLET.lower(), "--json")
    (only,) = json.loads(mine.out)
    assert (only["credit_id"], only["training_id"], only["wallet"]) == (credit.id, lora, WALLET)

    credits = json.loads((await admin(path, "credits", "--discord-user", str(OTHER), "--json")).out)
    assert [(c["discord_user_id"], c["status"]) for c in credits] == [(OTHER, "available")]
    consumed = await admin(path, "credits", "--state", "consumed", "--limit", "5")
    assert consumed.code == 0 and len(consumed.out.splitlines()) == 2

    trainings = await admin(path, "trainings", "--state", "completed", "--json")
    (done,) = json.loads(trainings.out)
    assert (done["lora_id"], done["status"], done["credit_id"]) == (lora, "completed", credit.id)
    none = await admin(path, "trainings", "--state", "failed")
    assert (none.code, none.out.strip()) == (0, "No trainings match.")

    bad = await admin(path, "credits", "--state", "lost")
    assert bad.code == 2 and "invalid choice" in bad.err


async def test_grant_credit_found_unknown_and_explicit_user(db_file: tuple[Path, Database]) -> None:
    path, db = db_file
    await rows.link_wallet(db, USER, WALLET)

    granted = await admin(
        path,
        "grant-credit",
        WALLET.upper().replace("0X", "0x"),
        "--reason",
        "tx 0xabc paid twice",
        "--json",
    )
    assert granted.code == 0, granted.err
    credit = json.loads(granted.out)
    assert (credit["discord_user_id"], credit["source"], credit["status"]) == (
        USER,
        "admin",
        "available",
    )
    assert (credit["note"], credit["granted_by"]) == ("tx 0xabc paid twice", "opsperson")

    unknown = await admin(path, "grant-credit", OTHER_WALLET, "--reason", "refund")
    assert unknown.code == 1
    assert "No Discord user has linked" in unknown.err and "--discord-user" in unknown.err

    explicit = await admin(
        path,
        "grant-credit",
        OTHER_WALLET,
        "--reason",
        "refund",
        "--discord-user",
        str(OTHER),
        "--by",
        "alice",
    )
    assert explicit.code == 0, explicit.err
    assert f"to Discord user {OTHER}" in explicit.out and "by alice: refund" in explicit.out

    # Both credits are usable by the bot's own ledger and the audit is happy.
    from bot.services.credits import CreditLedger

    ledger = CreditLedger(db)
    assert (await ledger.reserve_next(USER, "t-user")) is not None
    assert (await ledger.reserve_next(OTHER, "t-other")) is not None
    await ledger.restore(credit["id"])
    audit = await admin(path, "audit")
    assert (audit.code, audit.out.strip()) == (0, "OK: 0 payments, 2 credits, 0 trainings checked")


async def test_retry_against_the_fake_fal(db_file: tuple[Path, Database]) -> None:
    path, db = db_file
    fal = await FakeFalTraining().start()
    try:
        fal.mode.script = []
        rid = fal.add()
        await rows.paid_credit(db, USER, WALLET)
        _, credit, lora = await rows.submitted(db, USER, WALLET, request_id=rid)
        await rows.finish(db, lora, "failed")
        await rows.told(db, lora)

        no_key = await admin(path, "retry", lora)
        assert no_key.code == 1 and "FAL_KEY" in no_key.err

        fixed = await admin(path, "retry", lora, FAL_KEY="fal-test-key", FAL_QUEUE_URL=fal.base_url)
        assert fixed.code == 0, fixed.err
        assert f"Training {lora}: fal says completed; it was failed, it is completed." in fixed.out
        assert "a running bot tells them at its next poll" in fixed.out
        assert "fal-test-key" not in fixed.out + fixed.err
        assert await rows.credit_status(db, credit.id) == ("consumed", lora)

        again = await admin(path, "retry", lora, "--json", FAL_KEY="k", FAL_QUEUE_URL=fal.base_url)
        assert json.loads(again.out)["after"] == "completed"
        assert (await admin(path, "audit")).code == 0
    finally:
        await fal.stop()


async def test_audit_fails_listing_each_offender(db_file: tuple[Path, Database]) -> None:
    path, db = db_file
    await rows.paid_credit(db, USER, WALLET)
    _, _, lora = await rows.submitted(db, USER, WALLET)
    lost = await rows.paid_credit(db, OTHER, WALLET)
    await db.execute(
        "UPDATE training_credits SET status = 'consumed', training_id = 'vanished' WHERE id = ?",
        (lost.id,),
    )
    await db.execute(
        "UPDATE training_jobs SET credit_id = NULL WHERE lora_training_id = ?", (lora,)
    )

    audit = await admin(path, "audit")
    assert audit.code == 1, audit.err
    first, *offenders = audit.out.splitlines()
    assert first == "FAILED: 2 offender(s) in 2 payments, 2 credits, 1 trainings checked"
    assert any(f"credit {lost.id}" in line and "rule 1" in line for line in offenders)
    assert any(f"training {lora}" in line and "rule 3" in line for line in offenders)

    report = json.loads((await admin(path, "audit", "--json")).out)
    assert report["ok"] is False
    assert sorted(o["rule"] for o in report["offenders"]) == [1, 3]


async def test_help_and_a_broken_database_url(tmp_path: Path) -> None:
    help_text = await admin(tmp_path / "x.db", "--help")
    assert help_text.code == 0
    for command in ("payments", "credits", "trainings", "grant-credit", "retry", "audit"):
        assert command in help_text.out
    audit_help = await admin(tmp_path / "x.db", "audit", "--help")
    assert "no credit is spent twice" in audit_help.out
    broken = await admin(tmp_path / "x.db", "audit", DATABASE_URL="ftp://nowhere")
    assert broken.code == 2 and "DATABASE_URL" in broken.err
