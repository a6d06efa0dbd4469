"""Strategies shared by the property tests: hostile text as users paste it."""

from __future__ import annotations

from hypothesis import strategies as st

# Every code point, lone surrogates included (JSON can carry them: "\ud800").
ANY_CHAR = st.characters(codec=None, exclude_categories=())
any_text = st.text(ANY_CHAR, max_size=600)

TRICKY = [
    "@everyone",
    "@here",
    "@",
    "everyone",
    "here",
    "<@123>",
    "<@!123456789012345678>",
    "<@&42>",
    "<#7>",
    "<",
    ">",
    "123",
    "\u200b",
    "\u200d",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u00ad",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u2028",
    "\u2029",
    "\ud800",
    "*",
    "_",
    "`",
    "```",
    "~",
    "|",
    "\\",
    "# ",
    "> ",
    "[x](https://e.x)",
    "0x",
    "ＡＢ",
    "١٢٣",
]

tricky_text = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.text(ANY_CHAR, max_size=4)), max_size=60
).map("".join)

# Hostile text: either fully random, or assembled from pieces that matter.
hostile_text = st.one_of(any_text, tricky_text)
