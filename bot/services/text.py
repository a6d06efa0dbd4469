"""Plain-text rules shared by every face (Discord, web pages, logs): no Discord here.

`drop_invisible` is the one text cleaner: characters a reader cannot see (control and
format characters such as zero-width spaces and bidi overrides, lone surrogates) can
hide or reorder what is shown, and lone surrogates have no UTF-8 at all.
"""

from __future__ import annotations

import functools
import unicodedata

_INVISIBLE = ("Cc", "Cf", "Cs")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15.1): drawn
# as nothing, yet not all of them are format characters (U+3164 HANGUL FILLER is a
# letter, U+034F a combining mark, U+FE0F a variation selector), so category alone
# misses them. A prompt of such fillers would pass "1-500 characters" while saying nothing.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip


_IGNORABLE = frozenset(c for low, high in _DEFAULT_IGNORABLE for c in range(low, high + 1))


def is_default_ignorable(ch: str) -> bool:
    return ord(ch) in _IGNORABLE


@functools.lru_cache(maxsize=16)
def _ascii_controls(keep: str) -> dict[int, None]:
    """The only invisible ASCII characters are the controls (Cc): 0-31 and 127."""
    return {c: None for c in (*range(32), 127) if chr(c) not in keep}


def drop_invisible(text: str, *, keep: str = "\n\t") -> str:
    """`text` without control, format, surrogate and default-ignorable code points (those
    in `keep` stay)."""
    if text.isascii():  # most text: one C-level pass instead of a Python loop per character
        return text.translate(_ascii_controls(keep))
    return "".join(
        ch
        for ch in text
        if ch in keep
        or (unicodedata.category(ch) not in _INVISIBLE and not is_default_ignorable(ch))
    )


def one_line(text: str) -> str:
    """Visible text on one line: invisible characters dropped, runs of space folded."""
    return " ".join(drop_invisible(text).split())


def short_address(address: str) -> str:
    """0x1234…abcd"""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 10 else address
