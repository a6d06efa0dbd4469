"""/help's pure pieces: command mentions and the price."""

from __future__ import annotations

from decimal import Decimal

from cogs.help.mentions import mention
from cogs.help.render import usd


def test_a_mention_carries_the_command_id_and_a_subcommand_its_groups() -> None:
    ids = {"generate": 11, "wallet": 22}
    assert mention(ids, "generate") == "</generate:11>"
    assert mention(ids, "wallet link") == "</wallet link:22>"


def test_an_unknown_command_stays_plain_text() -> None:
    assert mention({}, "train") == "/train"
    assert mention({"train": 0}, "train") == "/train"  # no id: nothing clickable


def test_prices_read_as_dollars() -> None:
    assert usd(Decimal("4")) == "$4"
    assert usd(Decimal("4.00")) == "$4"
    assert usd(Decimal("4.5")) == "$4.50"
    assert usd(Decimal("12.345")) == "$12.35"
