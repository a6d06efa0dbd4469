"""Discord's message markdown as HTML: escape first, then mark up, so nothing a user
typed can become a tag. Covers what the bot writes: bold, italics, underline, strike,
spoilers, inline code and code blocks, masked and bare links, headings, subtext,
quotes, lists, `<t:…>` timestamps and `<@…>`/`<#…>`/`</cmd:…>` mentions."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

FENCE = re.compile(r"```(?:([\w+-]{1,20})\n)?(.*?)```", re.S)
ESCAPED = re.compile(r"\\([\\*_~`|>#\-\[\]()<:.!+=])")
INLINE_CODE = re.compile(r"``(.+?)``|`([^`\n]+?)`")
# These run on escaped text: `<` is `&lt;` and `>` is `&gt;` by then.
TIMESTAMP = re.compile(r"&lt;t:(-?\d{1,13})(?::([tTdDfFR]))?&gt;")
USER = re.compile(r"&lt;@!?(\d{1,20})&gt;")
ROLE = re.compile(r"&lt;@&amp;(\d{1,20})&gt;")
CHANNEL = re.compile(r"&lt;#(\d{1,20})&gt;")
COMMAND = re.compile(r"&lt;/([\w -]{1,100}):(\d{1,20})&gt;")
EMOJI = re.compile(r"&lt;a?:(\w{2,32}):(\d{1,20})&gt;")
LINK = re.compile(r"\[([^\]\n]+)\]\((?:&lt;)?(https?://[^\s)]+?)(?:&gt;)?\)")
BARE_URL = re.compile(r"(?<![\"'=\w])(https?://[^\s<]+[^\s<.,:;\"')\]])")
STYLES = [
    (re.compile(r"\*\*\*(.+?)\*\*\*", re.S), r"<strong><em>\1</em></strong>"),
    (re.compile(r"\*\*(.+?)\*\*", re.S), r"<strong>\1</strong>"),
    (re.compile(r"__(.+?)__", re.S), r"<u>\1</u>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", re.S), r"<em>\1</em>"),
    (re.compile(r"(?<![\w])_(?!\s)(.+?)(?<!\s)_(?![\w])", re.S), r"<em>\1</em>"),
    (re.compile(r"~~(.+?)~~", re.S), r"<s>\1</s>"),
    (re.compile(r"\|\|(.+?)\|\|", re.S), r'<span class="spoiler">\1</span>'),
]


def relative(moment: datetime, now: datetime) -> str:
    """Discord's relative time words: "in 15 minutes", "3 hours ago", "a day ago"."""
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    steps: list[tuple[float, str, str, float]] = [
        (45, "a few seconds", "", 1),
        (90, "a minute", "", 60),
        (45 * 60, "", "minutes", 60),
        (90 * 60, "an hour", "", 3600),
        (22 * 3600, "", "hours", 3600),
        (36 * 3600, "a day", "", 86400),
        (26 * 86400, "", "days", 86400),
        (45 * 86400, "a month", "", 30 * 86400),
        (320 * 86400, "", "months", 30 * 86400),
        (548 * 86400, "a year", "", 365 * 86400),
    ]
    words = ""
    for limit, single, plural, unit in steps:
        if span < limit:
            words = single or f"{round(span / unit)} {plural}"
            break
    else:
        words = f"{round(span / (365 * 86400))} years"
    return f"in {words}" if seconds > 0 else f"{words} ago"


def timestamp(seconds: int, style: str | None, now: datetime) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    day = f"{moment.day} {moment:%B %Y}"
    formats = {
        "t": f"{moment:%H:%M}",
        "T": f"{moment:%H:%M:%S}",
        "d": f"{moment:%d/%m/%Y}",
        "D": day,
        "f": f"{day} {moment:%H:%M}",
        "F": f"{moment:%A}, {day} {moment:%H:%M}",
        "R": relative(moment, now),
    }
    return formats[style or "f"]


class Markdown:
    """Renders one message's markdown; `names` maps user ids to display names."""

    def __init__(self, *, now: datetime | None = None, names: Mapping[str, str] | None = None):
        self.now = now or datetime.now(UTC)
        self.names = dict(names or {})

    def __call__(self, text: str | None, *, blocks: bool = True) -> str:
        """HTML for `text`; `blocks=False` (embed titles) leaves headings, quotes and
        lists alone, as Discord does there."""
        if not text:
            return ""
        held: list[str] = []

        def hold(markup: str) -> str:
            held.append(markup)
            return f"\x00{len(held) - 1}\x00"

        def fence(match: re.Match[str]) -> str:
            code = match[2].strip("\n")
            return hold(f'<pre class="codeblock"><code>{html.escape(code)}</code></pre>')

        text = FENCE.sub(fence, text)
        text = INLINE_CODE.sub(
            lambda m: hold(f'<code class="inline">{html.escape(m[1] or m[2])}</code>'), text
        )
        # A backslash makes the next markdown character literal (outside code only).
        text = ESCAPED.sub(lambda m: hold(html.escape(m[1])), text)
        escaped = html.escape(text, quote=True)
        out = self._blocks(escaped, hold) if blocks else self._inline(escaped)
        return re.sub("\x00(\\d+)\x00", lambda m: held[int(m[1])], out)

    def _blocks(self, text: str, hold: Callable[[str], str]) -> str:
        """Line-level markup: headings, subtext, quotes and lists; the rest inline."""
        lines = []
        for line in text.split("\n"):
            if m := re.match(r"(#{1,3}) (.+)", line):
                level = len(m[1])
                lines.append(hold(f'<div class="h{level}">{self._inline(m[2])}</div>'))
            elif m := re.match(r"-# (.+)", line):
                lines.append(hold(f'<div class="subtext">{self._inline(m[1])}</div>'))
            elif m := re.match(r"&gt; ?(.*)", line):
                lines.append(hold(f'<div class="quote">{self._inline(m[1])}</div>'))
            elif m := re.match(r"(\s*)[-*] (.+)", line):
                lines.append(hold(f'<div class="li">• {self._inline(m[2])}</div>'))
            else:
                lines.append(self._inline(line))
        joined = "\n".join(lines)
        # Block elements break lines themselves; other newlines become <br>.
        joined = re.sub("(\x00\\d+\x00)\n", r"\1", joined)
        return joined.replace("\n", "<br>")

    def _inline(self, text: str) -> str:
        text = TIMESTAMP.sub(
            lambda m: f'<span class="timestamp">{timestamp(int(m[1]), m[2], self.now)}</span>',
            text,
        )
        text = ROLE.sub(r'<span class="mention">@role</span>', text)
        text = USER.sub(
            lambda m: f'<span class="mention">@{html.escape(self.names.get(m[1], m[1]))}</span>',
            text,
        )
        text = CHANNEL.sub(r'<span class="mention">#\1</span>', text)
        text = COMMAND.sub(r'<span class="mention command">/\1</span>', text)
        text = EMOJI.sub(r'<span class="emoji">:\1:</span>', text)
        links: list[str] = []

        def link(label: str, url: str) -> str:
            links.append(f'<a href="{url}">{label}</a>')
            return f"\x01{len(links) - 1}\x01"

        text = LINK.sub(lambda m: link(m[1], m[2]), text)
        text = BARE_URL.sub(lambda m: link(m[1], m[1]), text)
        for pattern, replacement in STYLES:
            text = pattern.sub(replacement, text)
        return re.sub("\x01(\\d+)\x01", lambda m: links[int(m[1])], text)
