"""Every custom_id prefix the bot uses, claimed once by the feature that owns it.

A component's custom_id names the code that handles it (its `DynamicItem` template
matches the prefix). Two features claiming overlapping prefixes would send one's
clicks to the other's code, so claiming one that overlaps another fails at import.
Each feature's `ids.py` claims its prefixes and is the only place that builds and
parses its custom_ids.

Some custom_ids carry a secret (a wallet-link token): the claim says so with a
`redact` function, and whatever logs a custom_id logs `redacted(custom_id)`, where the
secret part is a short hash (`wallet:paste:#3f2a9c1d`) that still ties log lines together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

CUSTOM_ID_MAX = 100  # Discord's limit

Redactor = Callable[[str], str]

_claimed: dict[str, str] = {}
_redactors: dict[str, Redactor] = {}


def secret_hash(secret: str) -> str:
    """A secret as logs may show it: `#` and the first 8 hex digits of its sha256."""
    return "#" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def secret_after(colons: int, *, only: tuple[str, ...] = ()) -> Redactor:
    """A redactor: everything after the `colons`-th colon is secret. `only`: just the
    custom_ids that start with one of these (the others carry no secret)."""

    def redact(custom_id: str) -> str:
        if only and not custom_id.startswith(only):
            return custom_id
        parts = custom_id.split(":", colons)
        if len(parts) <= colons:
            return custom_id
        return ":".join(parts[:colons]) + ":" + secret_hash(parts[colons])

    return redact


def claim(prefix: str, owner: str, *, redact: Redactor | None = None) -> str:
    """Reserve `prefix` (ending in ":") for `owner`; returns the prefix. `redact`: how
    to hide the secret part of this feature's custom_ids in logs (see `redacted`)."""
    if not prefix.endswith(":") or len(prefix) > 20:
        raise ValueError(f"a custom_id prefix is short and ends in ':': {prefix!r}")
    for other, other_owner in _claimed.items():
        if other_owner == owner and other == prefix:
            if redact is not None:
                _redactors[prefix] = redact
            return prefix  # a module imported twice (reloads)
        if other.startswith(prefix) or prefix.startswith(other):
            raise ValueError(
                f"custom_id prefix {prefix!r} ({owner}) overlaps {other!r} ({other_owner})"
            )
    _claimed[prefix] = owner
    if redact is not None:
        _redactors[prefix] = redact
    return prefix


def claimed() -> dict[str, str]:
    """Prefix -> owning feature (for tests and docs)."""
    return dict(_claimed)


def owner_of(custom_id: str) -> str | None:
    return next((owner for prefix, owner in _claimed.items() if custom_id.startswith(prefix)), None)


def redacted(custom_id: str) -> str:
    """`custom_id` as logs may show it: the secret part, if its feature declared one,
    replaced by `secret_hash` of it."""
    for prefix, redact in _redactors.items():
        if custom_id.startswith(prefix):
            return redact(custom_id)
    return custom_id
