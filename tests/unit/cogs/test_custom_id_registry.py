"""Every custom_id prefix is claimed once, and no two features' prefixes overlap."""

from __future__ import annotations

import hashlib
import importlib

import pytest

from cogs.common import custom_ids

FEATURE_IDS = ("cogs.gallery.ids", "cogs.generate.ids", "cogs.training.ids", "cogs.wallet.ids")


def test_every_feature_claims_its_own_prefixes() -> None:
    for name in FEATURE_IDS:
        importlib.import_module(name)
    owners = custom_ids.claimed()
    assert owners == {
        "lg:": "gallery",
        "ld:": "gallery",
        "lgs:": "gallery",
        "gen:": "generate",
        "train:": "training",
        "wallet:": "wallet",
    }
    assert custom_ids.owner_of("gen:open:" + "a" * 32) == "generate"
    assert custom_ids.owner_of("lgs:open") == "gallery"
    assert custom_ids.owner_of("nobody:x") is None


@pytest.mark.parametrize("prefix", ["gen:", "lg:", "gen:open:", "train:go:"])
def test_an_overlapping_prefix_is_refused(prefix: str) -> None:
    for name in FEATURE_IDS:
        importlib.import_module(name)
    with pytest.raises(ValueError, match="overlaps"):
        custom_ids.claim(prefix, "another feature")


@pytest.mark.parametrize("prefix", ["gen", "", "x" * 30 + ":"])
def test_a_prefix_must_be_short_and_end_in_a_colon(prefix: str) -> None:
    with pytest.raises(ValueError, match="ends in ':'"):
        custom_ids.claim(prefix, "another feature")


def test_every_dynamic_item_template_starts_with_a_claimed_prefix() -> None:
    from cogs.gallery.views import DYNAMIC_ITEMS as gallery
    from cogs.generate.views import DYNAMIC_ITEMS as generate
    from cogs.training.views import TrainButton
    from cogs.wallet.views import DYNAMIC_ITEMS as wallet

    for cls in (*gallery, *generate, TrainButton, *wallet):
        pattern = cls.__discord_ui_compiled_template__.pattern
        assert any(
            pattern.startswith(p.replace(":", "\\:")) or pattern.startswith(p)
            for p in custom_ids.claimed()
        ), pattern


def test_secret_parts_are_hashed_for_logs() -> None:
    from cogs.wallet import ids as wallet_ids

    token = "Zk3_secret-link-token-0123456789"
    hashed = custom_ids.secret_hash(token)
    assert hashed == "#" + hashlib.sha256(token.encode()).hexdigest()[:8]
    for built in (
        wallet_ids.paste_id(token),
        wallet_ids.address_modal_id(token),
        wallet_ids.signature_modal_id(token),
    ):
        shown = custom_ids.redacted(built)
        assert token not in shown
        assert shown == built.removesuffix(token) + hashed
    assert custom_ids.redacted("wallet:paste:") == "wallet:paste:" + custom_ids.secret_hash("")
    # Ids without a secret are logged as they are.
    assert custom_ids.redacted(wallet_ids.unlink_id(42, "yes")) == "wallet:unlink:42:yes"
    assert custom_ids.redacted("gen:open:" + "a" * 32) == "gen:open:" + "a" * 32
    assert custom_ids.redacted("nobody:x:y") == "nobody:x:y"


def test_secret_after_counts_colons_and_honours_only() -> None:
    redact = custom_ids.secret_after(1)
    assert redact("f:abc:def") == "f:" + custom_ids.secret_hash("abc:def")
    assert redact("f") == "f"
    only = custom_ids.secret_after(2, only=("f:s:",))
    assert only("f:s:xyz") == "f:s:" + custom_ids.secret_hash("xyz")
    assert only("f:t:xyz") == "f:t:xyz"
