"""Every parser and validator of what users type: never a crash, either a well-formed
value or a refusal the user can read (a `UserFacingError`)."""

from __future__ import annotations

import contextlib
import re
import unicodedata

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.clients.arena import InvalidChannelRef, parse_channel_ref
from bot.clients.chain import normalise_tx_hash
from bot.errors import UserFacingError
from bot.services.generation import PROMPT_MAX, PromptInvalid, check_prompt, clean_prompt
from bot.services.training.desk import (
    STEPS_MAX,
    STEPS_MIN,
    TrainingRefused,
    check_steps,
    check_trigger_word,
)
from bot.services.wallet.siwe import SiweError, checksum, normalise_signature
from cogs.common.text import plain, safe
from tests.properties.strategies import ANY_CHAR, hostile_text

INVISIBLE = ("Cc", "Cf", "Cs")
MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)\d+>")
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,148}[a-z0-9])?")
HASH = re.compile(r"0x[0-9a-f]{64}")


def refusal(exc: BaseException) -> str:
    assert isinstance(exc, UserFacingError), repr(exc)
    assert exc.message.strip() and len(exc.message) < 1000
    return exc.message


# --- prompts -------------------------------------------------------------------------------
@given(hostile_text)
def test_a_prompt_is_clean_and_short_or_refused(raw: str) -> None:
    cleaned = clean_prompt(raw)
    assert clean_prompt(cleaned) == cleaned  # idempotent
    assert all(unicodedata.category(ch) not in INVISIBLE for ch in cleaned)
    assert cleaned == cleaned.strip()
    try:
        prompt = check_prompt(raw)
    except PromptInvalid as exc:
        message = refusal(exc)
        assert ("empty" in message) == (not cleaned)
        assert not cleaned or len(cleaned) > PROMPT_MAX
        return
    assert prompt == cleaned and 1 <= len(prompt) <= PROMPT_MAX
    prompt.encode("utf-8")  # what fal and the database receive


@given(st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1))
def test_visible_prompts_keep_their_text(raw: str) -> None:
    assume(raw.strip() and len(raw.strip()) <= PROMPT_MAX)
    assert check_prompt(f"\u200b{raw}\u202e") == raw.strip()


# --- user text in messages -----------------------------------------------------------------
@given(hostile_text, st.integers(min_value=-5, max_value=4096), st.booleans())
def test_safe_text_never_mentions_and_fits(raw: str, limit: int, single_line: bool) -> None:
    for out in (safe(raw, limit, single_line=single_line), plain(raw, limit)):
        assert len(out) <= max(limit, 0)
        assert not MENTION.search(out), out
        # The one invisible character allowed is the zero-width space that breaks mentions.
        assert all(ch in "\n\t\u200b" or unicodedata.category(ch) not in INVISIBLE for ch in out)
    assert "\n" not in safe(raw, limit, single_line=True)
    assert "\n" not in plain(raw, limit)


# --- /train ---------------------------------------------------------------------------------
@given(hostile_text)
def test_a_trigger_word_is_well_formed_or_refused(raw: str) -> None:
    try:
        word = check_trigger_word(raw)
    except TrainingRefused as exc:
        refusal(exc)
        return
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}", word, re.ASCII)
    assert word == raw.strip()


@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}", fullmatch=True),
    st.sampled_from(["", " ", "\t"]),
)
def test_every_well_formed_trigger_word_is_accepted(word: str, pad: str) -> None:
    assume(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}", word, re.ASCII))
    assert check_trigger_word(pad + word + pad) == word


@given(st.integers())
def test_steps_are_in_range_or_refused(steps: int) -> None:
    try:
        assert STEPS_MIN <= check_steps(steps) <= STEPS_MAX
    except TrainingRefused as exc:
        refusal(exc)
        assert not STEPS_MIN <= steps <= STEPS_MAX


# --- Are.na channel links -----------------------------------------------------------------
channel_like = st.one_of(
    hostile_text,
    st.builds(
        "{}{}/{}/{}{}".format,
        st.sampled_from(["https://www.are.na", "http://are.na", "are.na", "https://evil.com", ""]),
        st.sampled_from(["", ":443", ":8080", "@evil.com"]),
        hostile_text,
        hostile_text,
        st.sampled_from(["", "/", "?x=1", "#frag", "/extra"]),
    ),
)


@given(channel_like)
def test_a_channel_reference_gives_a_slug_or_a_refusal(raw: str) -> None:
    try:
        slug = parse_channel_ref(raw)
    except InvalidChannelRef as exc:
        refusal(exc)
        return
    assert SLUG.fullmatch(slug), slug
    assert len(slug) <= 150


@given(
    st.from_regex(r"[A-Za-z0-9_.-]{1,30}", fullmatch=True),
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,60}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["https://www.are.na/", "https://are.na/", "www.are.na/", "<https://are.na/"]),
    st.booleans(),
)
def test_channel_links_give_their_slug(user: str, slug: str, prefix: str, upper: bool) -> None:
    assume(SLUG.fullmatch(slug) and user.lower() not in {"block", "blocks", "search"})
    assume(re.fullmatch(r"[A-Za-z0-9_.-]{1,30}", user, re.ASCII))
    link = f"{prefix}{user}/{slug.upper() if upper else slug}"
    if prefix.startswith("<"):
        link += ">"
    assert parse_channel_ref(link) == slug
    assert parse_channel_ref(f"  {slug}  ") == slug


# --- transaction hashes ---------------------------------------------------------------------
@given(st.one_of(hostile_text, st.from_regex(r"\s*(0[xX])?[0-9a-fA-F]{60,68}\s*", fullmatch=True)))
def test_a_tx_hash_is_normalised_or_none(raw: str) -> None:
    got = normalise_tx_hash(raw)
    assert got is None or HASH.fullmatch(got)


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["{}", "0x{}", " 0x{} ", "0X{}"]))
def test_every_spelling_of_a_hash_is_understood(digest: bytes, form: str) -> None:
    text = form.format(digest.hex().upper() if "X" in form else digest.hex())
    assert normalise_tx_hash(text) == "0x" + digest.hex()
    link = f"https://basescan.org/tx/0x{digest.hex()}?a=1"
    assert normalise_tx_hash(link) == "0x" + digest.hex()


# --- signatures ---------------------------------------------------------------------------
@given(
    st.one_of(
        hostile_text,
        st.binary(max_size=300),
        st.from_regex(r"\s*(0x)?[0-9a-fA-F ]{0,300}", fullmatch=True),
    )
)
def test_a_signature_is_bytes_or_refused(raw: str | bytes) -> None:
    try:
        data = normalise_signature(raw)
    except SiweError as exc:
        refusal(exc)
        return
    assert isinstance(data, bytes) and len(data) >= 65


@given(st.binary(min_size=65, max_size=400), st.booleans())
def test_a_hex_signature_round_trips(signature: bytes, upper: bool) -> None:
    text = signature.hex().upper() if upper else signature.hex()
    assert normalise_signature(f"  0x{text}\n") == signature
    assert normalise_signature(text) == signature


# --- addresses ----------------------------------------------------------------------------
@given(st.one_of(hostile_text, st.from_regex(r"\s*0[xX][0-9a-fA-F]{38,42}\s*", fullmatch=True)))
def test_an_address_is_eip55_or_refused(raw: str) -> None:
    try:
        address = checksum(raw)
    except SiweError as exc:
        refusal(exc)
        return
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address)
    assert to_checksum_address(address) == address
    assert address.lower() == raw.strip().lower()


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=2, max_value=41))
def test_an_address_in_any_honest_case_is_accepted_and_a_typo_is_caught(
    raw: bytes, flip: int
) -> None:
    lower = "0x" + raw.hex()
    right = to_checksum_address(lower)
    for spelling in (lower, "0x" + raw.hex().upper(), right, f" {right} "):
        assert checksum(spelling) == right
    if right[flip].isalpha():
        typo = right[:flip] + right[flip].swapcase() + right[flip + 1 :]
        if typo[2:] not in (typo[2:].lower(), typo[2:].upper()):
            with pytest.raises(SiweError):
                checksum(typo)


@given(st.text(ANY_CHAR, max_size=80))
def test_checksum_never_crashes(raw: str) -> None:
    with contextlib.suppress(SiweError):
        checksum(raw)
