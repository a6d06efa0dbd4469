"""Ids of every shape the shared database may hold travel in custom_ids exactly: the
web app's upper-case hex, the bot's lower-case hex, UUIDs, short strings, any text;
long ones by a handle. Every key fits, decodes to the very same text, never to a
case-folded or otherwise near one, and anything made up is refused."""

from __future__ import annotations

import secrets
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.gallery import MAX_PAGE, PageRef
from cogs.common import id_keys
from cogs.common.id_keys import Handle, InvalidKey, decode_key, inline_key, key_for, resolve_key
from cogs.gallery import ids
from cogs.generate import ids as generate_ids
from cogs.training import ids as training_ids
from storage.keyset import Mode
from storage.loras import LoraFilter
from tests.support.gallery_rows import WALLET_B

UPPER = secrets.token_hex(16).upper()  # hex(randomblob(16)), as the web app writes it
LOWER = secrets.token_hex(16)  # the bot's own
LONG = "x" * 300
HANDLE = "AbCdEfGhIjKlMnOp"  # 16 base64url characters
SHAPES = {
    "upper hex": (UPPER, 23),
    "lower hex": (LOWER, 22),
    "mixed hex": (LOWER[:16] + UPPER[16:], None),
    "uuid": (str(uuid.uuid4()), None),
    "upper uuid": (str(uuid.uuid4()).upper(), None),
    "short": ("abc123", 9),
    "17 bytes": ("é" * 8 + "x", 24),
    "looks like a handle": ("*" + HANDLE, 24),
    "300 characters": (LONG, None),
}
printable_ids = st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=id_keys.ID_MAX
)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_has_an_exact_key(shape: str) -> None:
    row_id, inline_length = SHAPES[shape]
    key = inline_key(row_id)
    if inline_length is None:
        assert key is None  # it needs a handle
        key = key_for(row_id, {row_id: HANDLE})
        assert key == "*" + HANDLE
        assert decode_key(key) == Handle(HANDLE)
        assert resolve_key(key, {HANDLE: row_id}) == row_id
    else:
        assert key is not None and len(key) == inline_length
        assert decode_key(key) == row_id  # exactly: the case survives
    assert ":" not in key and len(key) <= id_keys.KEY_MAX


def test_upper_and_lower_hex_are_different_keys() -> None:
    assert decode_key(inline_key(UPPER) or "") == UPPER
    assert decode_key(inline_key(UPPER.lower()) or "") == UPPER.lower()
    assert inline_key(UPPER) != inline_key(UPPER.lower())
    assert (inline_key(UPPER) or "").startswith("^")


@given(printable_ids)
def test_any_text_round_trips_inline_or_by_handle(row_id: str) -> None:
    key = key_for(row_id, {row_id: HANDLE})
    assert key is not None and len(key) <= id_keys.KEY_MAX and ":" not in key
    assert resolve_key(key, {HANDLE: row_id}) == row_id
    value = id_keys.value_for(row_id, {row_id: HANDLE})
    assert value is not None and len(value) <= id_keys.VALUE_MAX
    assert ids.parse_select_value(value, {HANDLE: row_id}) == row_id


@given(printable_ids, st.sampled_from([Mode.OLDER, Mode.NEWER]), st.integers(1, MAX_PAGE))
def test_gallery_and_detail_ids_carry_any_id(row_id: str, mode: Mode, page: int) -> None:
    handles, back = {row_id: HANDLE}, {HANDLE: row_id}
    filters = LoraFilter(wallet=WALLET_B.lower(), search="s" * ids.SEARCH_MAX)
    ref = PageRef(mode, page, row_id)
    custom_id = ids.gallery_id(ref, filters, handles=handles)
    assert custom_id is not None and len(custom_id) <= 100
    assert ids.parse_gallery_id(custom_id, back).ref == ref
    detail = ids.detail_id(row_id, ref, handles=handles)
    assert detail is not None and len(detail) <= 100
    state = ids.parse_detail_id(detail, back)
    assert (state.lora_id, state.ref) == (row_id, ref)


@given(printable_ids)
def test_generate_and_training_ids_carry_any_id(row_id: str) -> None:
    handles, back = {row_id: HANDLE}, {HANDLE: row_id}
    for make in (generate_ids.generate_id, generate_ids.open_lora_id):
        custom_id = make(row_id, handles)
        assert custom_id is not None and len(custom_id) <= 100
    generate = generate_ids.generate_id(row_id, handles) or ""
    assert generate_ids.parse_generate_id(generate, back) == row_id
    key = training_ids.key_of(row_id, handles)
    assert key is not None
    assert len(training_ids.button_id("check", key)) <= 100
    assert training_ids.checked_key(key, back) == row_id
    assert len(generate_ids.prompt_modal_id(row_id)) <= 100
    assert len(training_ids.hash_modal_id(row_id)) <= 100


def test_the_bots_own_ids_keep_their_old_custom_ids() -> None:
    assert generate_ids.generate_id(LOWER) == f"gen:open:{LOWER}"
    assert generate_ids.parse_generate_id(f"gen:open:{LOWER}") == LOWER
    assert training_ids.checked_key(LOWER) == LOWER
    assert generate_ids.generate_id(UPPER) == "gen:open:" + (inline_key(UPPER) or "")
    assert generate_ids.parse_generate_id(generate_ids.generate_id(UPPER) or "") == UPPER


def test_an_id_without_its_handle_gets_no_button() -> None:
    assert key_for(LONG) is None
    assert generate_ids.generate_id(LONG) is None
    assert ids.detail_id(LONG, PageRef()) is None
    assert key_for("y" * (id_keys.ID_MAX + 1), {"y" * (id_keys.ID_MAX + 1): HANDLE}) is None


@pytest.mark.parametrize(
    "key",
    ["", "*", "*short", "*" + HANDLE + "x", "~", "~!!", "^abc", "abc", "x" * 26, "~_w", "~gA"],
)
def test_made_up_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        resolve_key(key)


def test_an_unknown_handle_is_refused() -> None:
    with pytest.raises(InvalidKey):
        resolve_key("*" + HANDLE, {})
    with pytest.raises(generate_ids.StaleGenerateButton):
        generate_ids.checked_key("*" + HANDLE)
    with pytest.raises(training_ids.StaleTrainButton):
        training_ids.checked_key("*" + HANDLE)


def test_handles_in_finds_only_handle_shaped_fields() -> None:
    custom_id = f"ld:n:2:*{HANDLE}:*{HANDLE[::-1]}"
    assert id_keys.handles_in(custom_id) == [HANDLE, HANDLE[::-1]]
    assert id_keys.handles_in("lg:f:1:::*short") == []
