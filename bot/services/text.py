"""Plain-text rules shared by every face (Discord, web pages, logs): no Discord here.

`drop_invisible` is the one text cleaner: characters a reader cannot see (control and
format characters such as zero-width spaces and bidi overrides, lone surrogates) can
hide or reorder what is shown, and lone surrogates have no UTF-8 at all.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = ("Cc", "Cf", "Cs")


def drop_invisible(text: str, *, keep: str = "\n\t") -> str:
    """`text` without control, format and surrogate code points (those in `keep` stay)."""
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) not in _INVISIBLE)


def one_line(text: str) -> str:
    """Visible text on one line: invisible characters dropped, runs of space folded."""
    return " ".join(drop_invisible(text).split())


def short_address(address: str) -> str:
    """0x1234…abcd"""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 10 else address
