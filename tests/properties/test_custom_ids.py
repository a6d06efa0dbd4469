"""Button custom_ids: the bot's own fit in 100 characters and parse back; forged ones
parse to valid state or are refused as stale, and valid state never reaches data or
actions that are not the clicker's (checked on the services, real database)."""

from __future__ import annotations

import secrets
from typing import Any

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UserFacingError
from bot.services.gallery import MAX_PAGE, Gallery, PageRef
from bot.services.training.checkout import Checkout
from bot.services.training.desk import TrainingDesk, TrainingRefused
from cogs.common import id_keys
from cogs.gallery import ids
from cogs.gallery import views as gallery_views
from cogs.generate import ids as generate_ids
from cogs.generate import views as generate_views
from cogs.training import ids as training_ids
from cogs.training import views as train_buttons
from cogs.wallet.views import PasteSignatureButton, UnlinkButton
from storage import training_orders
from storage.db import Database
from storage.keyset import Mode
from storage.loras import LoraFilter
from storage.training_orders import DRAFT, Order
from tests.properties.strategies import hostile_text
from tests.support.gallery_rows import (
    WALLET_A,
    WALLET_B,
    image_row,
    insert_images,
    insert_loras,
    lora_row,
)

ALICE, BOB = 42, 43
hex_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
# Every shape the shared database may hold: the web app's `hex(randomblob(16))` (upper
# case), UUIDs of either case, short strings; long ones need a handle (`any_ids`).
upper_hex_ids = hex_ids.map(str.upper)
uuids = st.uuids().map(str).flatmap(lambda u: st.sampled_from([u, u.upper()]))
short_ids = st.text(min_size=1, max_size=12).filter(lambda s: ids.encode_id(s) is not None)
inline_ids = st.one_of(hex_ids, upper_hex_ids, short_ids)
any_ids = st.one_of(
    inline_ids,
    uuids,
    # No NUL: libsql 0.1.11 cuts bound text at the first NUL ('ab\x00cd' is stored as
    # 'ab'), so no stored row id can hold one.
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=400,
    ),
)
# Previous/next always carry their anchor (`paging_for`); first/last never need one.
page_refs = st.one_of(
    st.builds(
        PageRef,
        st.sampled_from([Mode.FIRST, Mode.LAST]),
        st.integers(min_value=-5, max_value=MAX_PAGE + 5),
        st.one_of(st.none(), inline_ids),
    ),
    st.builds(
        PageRef,
        st.sampled_from([Mode.OLDER, Mode.NEWER]),
        st.integers(min_value=-5, max_value=MAX_PAGE + 5),
        inline_ids,
    ),
)
# What the /loras command makes of a search (cogs/gallery.py): printable, one line.
searches = st.text(max_size=40).map(
    lambda t: " ".join("".join(c for c in t if c.isprintable() or c.isspace()).split())
)
filters = st.builds(
    LoraFilter,
    wallet=st.one_of(st.none(), st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())),
    search=st.one_of(st.none(), searches.filter(bool)),
)
forged = st.one_of(
    hostile_text,
    st.builds(
        "{}{}".format,
        st.sampled_from(["lg:", "ld:", "gen:open:", "gen:retry:", "train:go:", "wallet:unlink:"]),
        st.lists(
            st.one_of(
                st.sampled_from(["f", "p", "n", "l", "c", "i", "1", "999999", "0", "~", ":", ""]),
                st.from_regex(r"[~^*]?[A-Za-z0-9_-]{0,30}", fullmatch=True),
                hostile_text,
            ),
            max_size=6,
        ).map(":".join),
    ),
)


def dynamic_classes() -> list[type[discord.ui.DynamicItem[Any]]]:
    return [
        *gallery_views.DYNAMIC_ITEMS,
        *generate_views.DYNAMIC_ITEMS,
        train_buttons.TrainButton,
        PasteSignatureButton,
        UnlinkButton,
    ]


# --- made by the bot ----------------------------------------------------------------------
@given(page_refs, filters, st.sampled_from([None, "c", "i"]))
def test_gallery_ids_fit_and_parse_back(ref: PageRef, flt: LoraFilter, action: str | None) -> None:
    custom_id = ids.gallery_id(ref, flt, action=action)
    if custom_id is None:
        return  # too long to encode: the bot leaves that button out
    assert len(custom_id) <= ids.CUSTOM_ID_MAX
    state = ids.parse_gallery_id(custom_id)
    assert state.filters == LoraFilter(
        wallet=flt.wallet.lower() if flt.wallet else None, search=flt.search or None
    )
    assert state.ref.mode is (ref.mode if action is None else Mode.FIRST)
    assert state.ref.page == min(max(ref.page, 1), MAX_PAGE)
    if state.ref.mode in (Mode.OLDER, Mode.NEWER):
        assert state.ref.anchor == ref.anchor


@given(inline_ids, page_refs)
def test_detail_ids_fit_and_parse_back(lora_id: str, ref: PageRef) -> None:
    custom_id = ids.detail_id(lora_id, ref)
    if custom_id is None:
        return
    assert len(custom_id) <= ids.CUSTOM_ID_MAX
    state = ids.parse_detail_id(custom_id)
    assert state.lora_id == lora_id
    assert state.ref.mode is ref.mode


@given(any_ids, st.integers(min_value=0, max_value=2**64), st.sampled_from(["yes", "no"]))
def test_every_other_button_the_bot_makes_fits_and_matches_its_template(
    row_id: str, user_id: int, choice: str
) -> None:
    handles = {row_id: "H" * 16}
    made: list[discord.ui.DynamicItem[Any]] = [
        *(
            b
            for kind in generate_ids.KINDS
            if (b := generate_views.button_for(kind, row_id, handles)) is not None
        ),
        *(
            train_buttons.TrainButton(kind, training_ids.key_of(row_id, handles) or "")
            for kind in train_buttons.TrainButton.LABELS
        ),
        UnlinkButton(user_id, choice),
        PasteSignatureButton(secrets.token_urlsafe(24)),
    ]
    assert len(made) == len(generate_ids.KINDS) + len(train_buttons.TrainButton.LABELS) + 2
    for item in made:
        assert len(item.custom_id) <= 100
        match = type(item).__discord_ui_compiled_template__.fullmatch(item.custom_id)
        assert match
        if "key" in match.groupdict():
            assert generate_ids.checked_key(match["key"], {"H" * 16: row_id}) == row_id
    generate = generate_ids.generate_id(row_id, handles) or ""
    assert generate_ids.parse_generate_id(generate, {"H" * 16: row_id}) == row_id


# --- forged -------------------------------------------------------------------------------
@given(forged)
def test_a_forged_gallery_id_parses_or_is_refused(custom_id: str) -> None:
    for parse in (ids.parse_gallery_id, ids.parse_detail_id, generate_ids.parse_generate_id):
        try:
            state = parse(custom_id)
        except (ids.InvalidCustomId, generate_ids.StaleGenerateButton):
            continue  # the buttons turn this into a private "stale button" message
        if isinstance(state, str):
            assert 1 <= len(state) <= 90  # an id to look up exactly (public rows only)
        else:
            assert state.action in ids.ACTIONS and 1 <= state.ref.page <= MAX_PAGE


@given(forged)
def test_a_forged_id_on_any_dynamic_item_gives_valid_state_or_a_stale_refusal(
    custom_id: str,
) -> None:
    for cls in dynamic_classes():
        match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
        if match is None:
            continue  # discord.py does not route it to this class
        groups = match.groupdict()
        if cls is UnlinkButton:
            assert int(groups["user"]) >= 0 and groups["choice"] in ("yes", "no")
            continue
        for key in ("lora", "batch", "key"):
            if key in groups:
                checked = (
                    generate_ids.checked_key
                    if cls is generate_views.GenerateButton
                    else training_ids.checked_key
                )
                try:
                    value: str | None = checked(groups[key])
                except UserFacingError as exc:
                    value, message = None, exc.message
                    assert message
                # Without the handles table, a handle-shaped key is refused; anything else
                # is an exact id to look up (ownership is checked by the services).
                assert value is None or 1 <= len(value) <= 90


# --- valid state never reaches someone else's data ----------------------------------------
class Seeded:
    """Rows made once per database (hypothesis runs the test body many times)."""

    def __init__(self) -> None:
        self.db: Database | None = None
        self.data: dict[str, Any] = {}

    async def once(self, db: Database, make: Any) -> dict[str, Any]:
        if self.db is not db:
            self.db, self.data = db, await make(db)
        return self.data


GALLERY = Seeded()
ORDERS = Seeded()


async def seed_gallery(db: Database) -> dict[str, Any]:
    done = [lora_row(minutes=i, wallet=(WALLET_A, WALLET_B)[i % 2]) for i in range(6)]
    hidden = [lora_row(minutes=10 + i, status=s) for i, s in enumerate(["pending", "failed"])]
    await insert_loras(db, done + hidden)
    images = [image_row(lora["id"], minutes=j) for lora in done + hidden for j in range(3)]
    await insert_images(db, images)
    images_of: dict[str, set[str]] = {lora["id"]: set() for lora in done + hidden}
    for image in images:
        images_of[image["lora_training_id"]].add(image["id"])
    return {"completed": {lora["id"] for lora in done}, "images_of": images_of}


# Anchors a forger would try: ids of hidden LoRAs and of other LoRAs' images (unknown
# here until seeded, so: any 32-hex id; the seeded ones are drawn through `data`).
@pytest.mark.embedded_only
@given(
    st.sampled_from(list(Mode)),
    st.integers(1, MAX_PAGE),
    st.one_of(st.none(), st.sampled_from([WALLET_A.lower(), WALLET_B.lower()])),
    st.data(),
)
async def test_forged_gallery_state_shows_only_public_rows(
    db: Database, mode: Mode, page: int, wallet: str | None, data: st.DataObject
) -> None:
    seeded = await GALLERY.once(db, seed_gallery)
    completed: set[str] = seeded["completed"]
    images_of: dict[str, set[str]] = seeded["images_of"]
    every_id = sorted(set(images_of) | {i for ids_ in images_of.values() for i in ids_})
    anchor = data.draw(st.one_of(st.sampled_from(every_id), any_ids))
    lora_id = data.draw(st.sampled_from(sorted(completed)))
    gallery = Gallery(db, page_size=2, images_per_page=2)
    # Long anchors travel as handles (made here as a view would make them).
    made = await id_keys.handles_for(gallery, [anchor])
    ref = PageRef(mode, page, anchor)
    custom_id = ids.gallery_id(ref, LoraFilter(wallet=wallet), handles=made)
    assert custom_id is not None and len(custom_id) <= 100
    state = ids.parse_gallery_id(custom_id, await id_keys.read_handles(gallery, custom_id))
    if mode in (Mode.OLDER, Mode.NEWER):
        assert state.ref.anchor == anchor  # exactly, whatever its shape
    shown = await gallery.page(state.filters, state.ref)
    for lora in shown.loras:
        assert lora.id in completed
        assert wallet is None or lora.wallet_address.lower() == wallet
    detail_id = ids.detail_id(lora_id, ref, handles=made)
    assert detail_id is not None
    detail_state = ids.parse_detail_id(detail_id, await id_keys.read_handles(gallery, detail_id))
    detail = await gallery.detail(detail_state.lora_id, detail_state.ref)
    assert detail is not None and detail.lora.id == lora_id
    assert {image.id for image in detail.images} <= images_of[lora_id]


def new_order(owner: int) -> Order:
    return Order(
        id=secrets.token_hex(16),
        discord_user_id=owner,
        wallet=WALLET_B,
        channel_slug="bobs-channel",
        channel_title="Bob's",
        trigger_word="bobstyle",
        steps=1000,
        image_count=10,
        quote_id=None,
        tx_hash=None,
        status=DRAFT,
        lora_training_id=None,
        created_at="2026-01-01T00:00:00.000Z",
    )


class Untouchable:
    """A collaborator the refused actions must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was reached for someone else's request")


async def seed_orders(db: Database) -> dict[str, Any]:
    order = new_order(BOB)
    await training_orders.create(db, order)
    lora = lora_row(status="pending", wallet=WALLET_B)
    await insert_loras(db, [lora])
    await db.execute(
        "INSERT INTO training_jobs (lora_training_id, request_id, discord_user_id, state, "
        "created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?)",
        (lora["id"], lora["request_id"], str(BOB), lora["created_at"], lora["created_at"]),
    )
    return {"order": await training_orders.get(db, order.id), "lora_id": lora["id"]}


@pytest.mark.embedded_only
@given(st.integers(min_value=0, max_value=2**64).filter(lambda u: u != BOB))
async def test_someone_elses_order_or_training_is_refused(db: Database, user: int) -> None:
    seeded = await ORDERS.once(db, seed_orders)
    order: Order = seeded["order"]
    desk = TrainingDesk(
        db,
        Untouchable(),  # type: ignore[arg-type]
        Untouchable(),  # type: ignore[arg-type]
        Untouchable(),  # type: ignore[arg-type]
        trainer=Untouchable(),  # type: ignore[arg-type]
        storage=Untouchable(),  # type: ignore[arg-type]
        quoter=None,
        verifier=Untouchable(),  # type: ignore[arg-type]
    )
    checkout = Checkout(desk)
    attempts = [
        desk.submit(order.id, user, channel_id=7, announce=Untouchable()),  # type: ignore[arg-type]  # train:go
        checkout.settle(order.id, "0x" + "ab" * 32, user_id=user),  # train:tx → its modal
        checkout.settle(order.id, user_id=user),  # train:check
        desk.drop(order.id, user),  # train:drop
        desk.cancel(seeded["lora_id"], user),  # train:stop
    ]
    for attempt in attempts:
        with pytest.raises(TrainingRefused):
            await attempt
    assert await training_orders.get(db, order.id) == order
