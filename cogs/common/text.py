"""Making user text safe and short for Discord.

Trigger words, prompts and Are.na titles come from users: escape markdown, neutralise
mentions (even though `allowed_mentions` is none, `@everyone` should not even look like
one), strip invisible control characters, and cut to Discord's limits by characters.
"""

from __future__ import annotations

import re
import unicodedata

import discord

ELLIPSIS = "…"
# Zero-width space after "@" keeps the text readable but makes it no mention at all.
_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here)")
_USER_ROLE_CHANNEL_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")


def _drop_control(text: str) -> str:
    # Keep newlines and tabs; drop other control and format characters (zero-width,
    # bidi overrides) that can hide or reorder what a reader sees, and lone surrogates
    # (not text: no UTF-8 for them).
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def neutralise_mentions(text: str) -> str:
    text = _MASS_MENTION.sub(lambda m: f"@{_ZWSP}{m[1]}", text)
    return _USER_ROLE_CHANNEL_MENTION.sub(lambda m: f"<{m[1]}{_ZWSP}{m[2]}>", text)


def truncate(text: str, limit: int) -> str:
    """Cut to at most `limit` characters, marking the cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def safe(text: str, limit: int, *, single_line: bool = False) -> str:
    """User text ready to place in a message or embed: no markdown, no mentions, no
    invisible characters, at most `limit` characters."""
    text = _drop_control(text)
    if single_line:
        text = " ".join(text.split())
    text = neutralise_mentions(discord.utils.escape_markdown(text))
    return truncate(text, limit)


def code_block(text: str, limit: int = 1990) -> str:
    """Text shown verbatim in a code block (backticks cannot close it early)."""
    body = text.replace("```", "`\u200b``")
    return "```\n" + truncate(body, limit - 8) + "\n```"


def short_address(address: str) -> str:
    """0x1234…abcd"""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 10 else address


def basescan_address_url(address: str) -> str:
    return f"https://basescan.org/address/{address}"


def plain(text: str, limit: int) -> str:
    """User text for places Discord shows without markdown (button and menu labels,
    footers, autocomplete choices): one line, no invisible characters, nothing that looks
    like a mention, at most `limit`."""
    return truncate(neutralise_mentions(" ".join(_drop_control(text).split())), limit)
