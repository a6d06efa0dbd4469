"""`/lora` autocomplete from memory: Discord gives autocomplete 3 s and no deferral, so
its answer must not wait in line behind other database calls in a burst.

The index holds every completed LoRA's id, trigger word, creator and steps, and answers
exactly as `storage.loras.suggest` does (ids by prefix as typed, upper- or lower-case;
then trigger-word prefixes, then substrings, ASCII case folded as SQLite's NOCASE and
LIKE do; nothing typed: the newest). It stays fresh across processes, and for the web
app's writes, through the change log that triggers keep in the database
(`storage.lora_changes`): at most every `check_seconds`, a use starts one small query in
the background ("what changed after seq N?") and applies only those rows. Answers never
wait for that check, so they may lag a write by about `check_seconds`. The bot starts
the initial load at start (`warm`); a use before it is done waits for it.
Wiring: `choices = await services.lora_index.suggest(text)`.

It holds a few small objects per LoRA; above `max_entries` completed LoRAs (the count
kept by triggers, `storage.gallery_totals`) it holds nothing and asks the database
(`loras.suggest`) as before, looking again at the count every `30 * check_seconds`.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Callable
from itertools import islice
from typing import TypeVar

from storage import gallery_totals, lora_changes, loras
from storage.db import Database
from storage.lora_changes import IndexedLora
from storage.loras import ID_PREFIX_MIN, LoraChoice

log = logging.getLogger(__name__)
T = TypeVar("T")

_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SEP = "\x00"  # cannot be typed into an autocomplete box; splits words in the haystack


def fold(text: str) -> str:
    """SQLite's NOCASE / LIKE folding: ASCII letters only."""
    return text.translate(_ASCII_FOLD)


class LoraIndex:
    def __init__(
        self,
        db: Database,
        *,
        check_seconds: float = 2.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.check_seconds = check_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._position: int | None = None
        self._checked_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None
        self._too_big = False
        self._rows: dict[str, IndexedLora] = {}
        self._by_word: list[tuple[str, str]] = []  # (folded trigger word, id), sorted
        self._ids: list[str] = []  # sorted
        self._newest: list[tuple[str, str]] = []  # (created_at, id), sorted oldest first
        self._haystack: str | None = None  # _SEP + folded words in _by_word order + _SEP
        self._offsets: list[int] = []  # where each word starts in the haystack

    # --- answering ------------------------------------------------------------------
    async def suggest(self, text: str, limit: int = 25) -> list[LoraChoice]:
        if self._position is None:  # the first use waits for the load
            if self._refreshing is not None and not self._refreshing.done():
                await asyncio.shield(self._refreshing)
            if self._position is None:
                await self.refresh()
        else:
            self._maybe_check()
        if self._too_big:
            return await loras.suggest(self.db, text, limit)
        return self.suggest_now(text, limit)

    def suggest_now(self, text: str, limit: int = 25) -> list[LoraChoice]:
        """What the index holds now, without any database call."""
        text = " ".join(text.split())
        if not text:
            newest = (i for _, i in reversed(self._newest))
            return [self._choice(i) for i in islice(newest, limit)]
        ids: list[str] = []
        if len(text) >= ID_PREFIX_MIN and " " not in text:
            for prefix in dict.fromkeys((text, text.upper(), text.lower())):
                start = bisect.bisect_left(self._ids, prefix)
                for lora_id in islice(self._ids, start, start + limit):
                    if not lora_id.startswith(prefix):
                        break
                    ids.append(lora_id)
        key = fold(text)
        start = bisect.bisect_left(self._by_word, (key,))
        for word, lora_id in islice(self._by_word, start, start + limit):
            if not word.startswith(key):
                break
            ids.append(lora_id)
        if len(set(ids)) < limit:
            ids += self._substrings(key, limit)
        return [self._choice(i) for i in list(dict.fromkeys(ids))[:limit]]

    def _substrings(self, key: str, limit: int) -> list[str]:
        """Words containing `key` but not starting with it, in sorted order: `str.find`
        over one string of every word (C speed, no per-word Python loop)."""
        haystack = self._haystack_now()
        found: list[str] = []
        at = haystack.find(key)
        while at != -1 and len(found) < limit:
            n = bisect.bisect_right(self._offsets, at) - 1
            word, lora_id = self._by_word[n]
            if at != self._offsets[n]:  # a prefix match was counted already
                found.append(lora_id)
            at = haystack.find(key, self._offsets[n] + len(word) + 1)
        return found

    def _haystack_now(self) -> str:
        if self._haystack is None:
            offsets, at = [], 1
            for word, _ in self._by_word:
                offsets.append(at)
                at += len(word) + 1
            self._offsets = offsets
            self._haystack = _SEP + _SEP.join(w for w, _ in self._by_word) + _SEP
        return self._haystack

    def _choice(self, lora_id: str) -> LoraChoice:
        row = self._rows[lora_id]
        return LoraChoice(row.id, row.trigger_word, row.wallet_address, row.steps)

    # --- freshness ------------------------------------------------------------------
    def warm(self) -> None:
        """Look in the background now, unless a look is under way: at start it is the
        load, so no first user waits for it."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self._check())

    def _maybe_check(self) -> None:
        every = self.check_seconds * (30 if self._too_big else 1)
        if self.clock() - self._checked_at >= every:
            self.warm()

    async def _check(self) -> None:
        try:
            await self.refresh()
        except Exception:  # the next use tries again; answers stay as they were
            log.warning("autocomplete index refresh failed", exc_info=True)

    async def refresh(self) -> None:
        """Apply what changed since the last look (or load everything)."""
        self._checked_at = self.clock()
        if self._position is not None and not self._too_big:
            changes = await lora_changes.changes_since(self.db, self._position)
            if changes is not None:
                self._apply(changes)
                return
        if await gallery_totals.total(self.db, lora_changes.COMPLETED) > self.max_entries:
            self._load(0, [], too_big=True)
            return
        position, rows = await lora_changes.snapshot(self.db)
        self._load(position, rows)

    def _load(self, position: int, rows: list[IndexedLora], *, too_big: bool = False) -> None:
        self._too_big = too_big or len(rows) > self.max_entries
        rows = [] if self._too_big else rows
        self._rows = {r.id: r for r in rows}
        self._by_word = sorted((fold(r.trigger_word), r.id) for r in rows)
        self._ids = sorted(self._rows)
        self._newest = sorted((r.created_at, r.id) for r in rows)
        self._haystack = None
        self._position = position
        log.debug("autocomplete index loaded", extra={"loras": len(rows)})

    def _apply(self, changes: lora_changes.Changes) -> None:
        for lora_id in changes.changed_ids:
            old = self._rows.pop(lora_id, None)
            if old is not None:
                _remove(self._by_word, (fold(old.trigger_word), old.id))
                _remove(self._ids, old.id)
                _remove(self._newest, (old.created_at, old.id))
        for row in changes.completed:
            self._rows[row.id] = row
            bisect.insort(self._by_word, (fold(row.trigger_word), row.id))
            bisect.insort(self._ids, row.id)
            bisect.insort(self._newest, (row.created_at, row.id))
        if changes.changed_ids:
            self._haystack = None
        self._position = changes.position
        if len(self._rows) > self.max_entries:
            self._load(changes.position, list(self._rows.values()))

    async def aclose(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            await asyncio.gather(self._refreshing, return_exceptions=True)


def _remove(items: list[T], item: T) -> None:
    at = bisect.bisect_left(items, item)  # type: ignore[call-overload]
    if at < len(items) and items[at] == item:
        del items[at]
