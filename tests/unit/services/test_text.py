"""The one text cleaner: what a reader cannot see is not text."""

from __future__ import annotations

import unicodedata

import pytest

from bot.services.generation import PromptInvalid, check_prompt
from bot.services.text import drop_invisible, is_default_ignorable, one_line

FILLERS = "\u3164\u115f\uffa0\u034f\ufe0f"  # Hangul fillers, CGJ, a variation selector


@pytest.mark.parametrize("prompt", [FILLERS, f" {FILLERS} \n\t", "\u200b\u2060\ufeff\u00ad"])
def test_a_prompt_of_invisible_fillers_is_empty(prompt: str) -> None:
    with pytest.raises(PromptInvalid, match="empty"):
        check_prompt(prompt)


def test_fillers_do_not_count_towards_the_500_characters() -> None:
    assert check_prompt("a" * 500 + FILLERS * 20) == "a" * 500
    with pytest.raises(PromptInvalid, match="501 characters"):
        check_prompt("a" * 501 + FILLERS)


def test_visible_text_is_kept_as_typed() -> None:
    assert check_prompt("  a cat  on the moon, 夜 ") == "a cat  on the moon, 夜"
    assert one_line("line\none\u3164") == "line one"
    assert drop_invisible("tab\tkept\n") == "tab\tkept\n"


def test_default_ignorable_fillers_are_not_all_format_characters() -> None:
    """Why a category check alone is not enough."""
    assert unicodedata.category("\u3164") == "Lo" and is_default_ignorable("\u3164")
    assert unicodedata.category("\u034f") == "Mn" and is_default_ignorable("\u034f")
    assert not is_default_ignorable("a") and not is_default_ignorable("\u00e9")


def test_the_ascii_fast_path_drops_exactly_what_the_general_rule_drops() -> None:
    def general(text: str, keep: str) -> str:
        return "".join(
            c for c in text if c in keep or (unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
        )

    every_ascii = "".join(chr(c) for c in range(128))
    for keep in ("\n\t", "", "\n", "\x00\x7f"):
        assert drop_invisible(every_ascii, keep=keep) == general(every_ascii, keep)
    # One non-ASCII character takes the general path for the whole text.
    assert drop_invisible("a\x00b\u200bc\u3164d\x7f\n") == "abcd\n"
