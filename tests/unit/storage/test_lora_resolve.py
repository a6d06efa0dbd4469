"""/generate's LoRA lookup costs one round trip to the database, by id or trigger word."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import NotConfigured
from bot.services.generation import ImageGenerator
from storage import loras
from storage.db import Database
from tests.support.gallery_rows import WALLET_A, insert_loras, link_wallet, lora_row

USER = 77


def count_round_trips(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call into the database process (`fetchone`/`execute`/`transaction` all end
    in `run`), by the name of the function it ran."""
    calls: list[str] = []
    real_run = db.run

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real_run(fn, *args, **kwargs)

    monkeypatch.setattr(db, "run", run)
    return calls


@pytest.fixture
async def lora(db: Database) -> dict[str, Any]:
    row = lora_row(trigger_word="Mystyle")
    await insert_loras(db, [row])
    await link_wallet(db, USER, WALLET_A)
    return row


@pytest.mark.parametrize("by", ["id", "upper-case id", "trigger word"])
async def test_prepare_finds_the_lora_in_one_round_trip(
    db: Database, lora: dict[str, Any], monkeypatch: pytest.MonkeyPatch, by: str
) -> None:
    ref = {"id": lora["id"], "upper-case id": lora["id"].upper(), "trigger word": "mystyle"}[by]
    generator = ImageGenerator(db, None, None, None)  # type: ignore[arg-type]
    calls = count_round_trips(db, monkeypatch)

    # Without fal, prepare stops right after the LoRA checks: the wallet, then the LoRA.
    with pytest.raises(NotConfigured):
        await generator.prepare(USER, f" {ref} ", "a cat")

    assert calls == ["op_fetchone", "in_db_find"]


async def test_find_tries_the_exact_id_before_the_trigger_word(db: Database) -> None:
    target = lora_row(trigger_word="other", status="failed", weights=None)
    # A completed LoRA whose trigger word is the other one's id: the id wins.
    impostor = lora_row(trigger_word=target["id"], minutes=5)
    await insert_loras(db, [target, impostor])

    found = await loras.find(db, target["id"])
    assert found is not None and found.id == target["id"]  # any status, by id
    by_word = await loras.find(db, "OTHER")
    assert by_word is None  # trigger words only find completed LoRAs
    assert await loras.find(db, "   ") is None
