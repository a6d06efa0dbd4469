"""Making user text safe and short for Discord.

Trigger words, prompts and Are.na titles come from users: escape markdown, neutralise
mentions (even though `allowed_mentions` is none, `@everyone` should not even look like
one), strip invisible control characters, and cut to Discord's limits by characters.
"""

from __future__ import annotations

import re

import discord

from bot.errors import Moment
from bot.services.text import drop_invisible
from bot.services.text import short_address as short_address

ELLIPSIS = "…"
# Zero-width space after "@" keeps the text readable but makes it no mention at all.
_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here)")
_USER_ROLE_CHANNEL_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")


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
    text = drop_invisible(text)
    if single_line:
        text = " ".join(text.split())
    text = neutralise_mentions(discord.utils.escape_markdown(text))
    return truncate(text, limit)


def code_block(text: str, limit: int = 1990) -> str:
    """Text shown verbatim in a code block (backticks cannot close it early)."""
    body = text.replace("```", "`\u200b``")
    return "```\n" + truncate(body, limit - 8) + "\n```"


def discord_moment(moment: Moment) -> str:
    """A time as Discord's timestamp markup, shown in each reader's own time zone."""
    return f"<t:{int(moment.at.timestamp())}:{'R' if moment.style == 'relative' else 'f'}>"


def timestamp(seconds: int, style: str = "f") -> str:
    return f"<t:{seconds}:{style}>"


def basescan_address_url(address: str) -> str:
    return f"https://basescan.org/address/{address}"


def plain(text: str, limit: int) -> str:
    """User text for places Discord shows without markdown (button and menu labels,
    footers, autocomplete choices): one line, no invisible characters, nothing that looks
    like a mention, at most `limit`."""
    return truncate(neutralise_mentions(" ".join(drop_invisible(text).split())), limit)
