"""custom_ids: every state round-trips, the longest one fits in 100 characters, and
anything made up is refused with `InvalidCustomId` (never another exception)."""

from __future__ import annotations

import contextlib
import random
import string

import pytest

from bot.services.gallery import MAX_PAGE, PageRef
from cogs.gallery import ids
from cogs.generate import ids as generate_ids
from storage.keyset import Mode
from storage.loras import LoraFilter
from tests.support.gallery_rows import WALLET_B, new_id

WORST_SEARCH = "\U0001f600:%_\\" * (ids.SEARCH_MAX // 5) + "x" * (ids.SEARCH_MAX % 5)


@pytest.mark.parametrize(
    "ref",
    [
        PageRef(),
        PageRef(Mode.OLDER, 7, new_id()),
        PageRef(Mode.NEWER, MAX_PAGE, new_id()),
        PageRef(Mode.LAST, 12),
        PageRef(Mode.OLDER, 2, "short-id"),
    ],
)
@pytest.mark.parametrize(
    "filters",
    [
        LoraFilter(),
        LoraFilter(wallet=WALLET_B.lower()),
        LoraFilter(search="a:b:c"),
        LoraFilter(wallet=WALLET_B.lower(), search=WORST_SEARCH),
    ],
)
def test_gallery_ids_round_trip(ref: PageRef, filters: LoraFilter) -> None:
    custom_id = ids.gallery_id(ref, filters)
    assert custom_id is not None and len(custom_id) <= ids.CUSTOM_ID_MAX
    state = ids.parse_gallery_id(custom_id)
    assert state.ref == ref
    assert state.filters == filters


def test_the_longest_possible_ids_fit() -> None:
    longest_key_id = "k" * 18  # a non-hex id of the longest encodable size
    assert ids.encode_id(longest_key_id) is not None
    assert ids.encode_id(longest_key_id + "k") is None
    filters = LoraFilter(wallet=WALLET_B.lower(), search="x" * ids.SEARCH_MAX)
    for action in ids.ACTIONS:
        ref = PageRef(Mode.OLDER, MAX_PAGE, longest_key_id)
        custom_id = ids.gallery_id(ref, filters, action=action)
        assert custom_id is not None and len(custom_id) <= 100
        detail = ids.detail_id(longest_key_id, ref, action=action)
        assert detail is not None and len(detail) <= 100
    assert ids.gallery_id(PageRef(), LoraFilter(search="x" * (ids.SEARCH_MAX + 1))) is None


def test_detail_and_generate_ids_round_trip() -> None:
    lora_id, anchor = new_id(), new_id()
    custom_id = ids.detail_id(lora_id, PageRef(Mode.OLDER, 3, anchor))
    assert custom_id is not None
    state = ids.parse_detail_id(custom_id)
    assert (state.lora_id, state.ref) == (lora_id, PageRef(Mode.OLDER, 3, anchor))
    assert generate_ids.generate_id(lora_id) == f"gen:open:{lora_id}"
    assert generate_ids.parse_generate_id(f"gen:open:{lora_id}") == lora_id
    assert generate_ids.generate_id("x" * 300) is None  # too long, and no handle given


@pytest.mark.parametrize(
    "custom_id",
    [
        "lg:",
        "lg:n:2:::",  # next without an anchor
        "lg:z:1:::",
        "lg:f:0:::",
        "lg:f:01:::",
        "lg:f:1234567:::",
        "lg:n:2:!!!!::",
        "lg:n:2:AAAA::",  # 3 bytes, not an id
        "lg:f:1::AAAA:",  # not a 20-byte wallet
        "lg:f:1:::" + "x" * (ids.SEARCH_MAX + 1),
        "lg:f:1:::bad\nsearch",
        "lg:f:1:::" + "x" * 100,
        "ld:f:1::",
        "ld:f:1:~:",
        "ld:f:1:~_w:",  # not UTF-8
        "ld:f:1:" + "A" * 30 + ":",
    ],
)
def test_made_up_ids_are_refused(custom_id: str) -> None:
    parse = ids.parse_gallery_id if custom_id.startswith("lg:") else ids.parse_detail_id
    with pytest.raises(ids.InvalidCustomId):
        parse(custom_id)


def test_random_ids_never_raise_anything_else() -> None:
    rng = random.Random(4)
    alphabet = string.printable + "~:é\U0001f600"
    for _ in range(5000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 99)))
        for parse, prefix in ((ids.parse_gallery_id, "lg:"), (ids.parse_detail_id, "ld:")):
            with contextlib.suppress(ids.InvalidCustomId):
                parse(prefix + body)
        # Valid-looking ones too: shuffled fields of real ids.
        real = ids.gallery_id(PageRef(Mode.OLDER, 3, new_id()), LoraFilter(wallet=WALLET_B))
        assert real is not None
        fields = real.split(":")
        rng.shuffle(fields)
        with contextlib.suppress(ids.InvalidCustomId):
            ids.parse_gallery_id("lg:" + ":".join(fields))


@pytest.mark.parametrize("lora_id", [new_id(), new_id().upper(), "short-id"])
def test_a_cards_open_button_round_trips(lora_id: str) -> None:
    custom_id = ids.detail_id(lora_id, PageRef(), action=ids.OPEN_PRIVATELY)
    assert custom_id is not None and custom_id.startswith("ld:o:1:")
    state = ids.parse_detail_id(custom_id)
    assert (state.action, state.ref, state.lora_id) == (ids.OPEN_PRIVATELY, PageRef(), lora_id)
