"""Every custom_id prefix the bot uses, claimed once by the feature that owns it.

A component's custom_id names the code that handles it (its `DynamicItem` template
matches the prefix). Two features claiming overlapping prefixes would send one's
clicks to the other's code, so claiming one that overlaps another fails at import.
Each feature's `ids.py` claims its prefixes and is the only place that builds and
parses its custom_ids.
"""

from __future__ import annotations

CUSTOM_ID_MAX = 100  # Discord's limit

_claimed: dict[str, str] = {}


def claim(prefix: str, owner: str) -> str:
    """Reserve `prefix` (ending in ":") for `owner`; returns the prefix."""
    if not prefix.endswith(":") or len(prefix) > 20:
        raise ValueError(f"a custom_id prefix is short and ends in ':': {prefix!r}")
    for other, other_owner in _claimed.items():
        if other_owner == owner and other == prefix:
            return prefix  # a module imported twice (reloads)
        if other.startswith(prefix) or prefix.startswith(other):
            raise ValueError(
                f"custom_id prefix {prefix!r} ({owner}) overlaps {other!r} ({other_owner})"
            )
    _claimed[prefix] = owner
    return prefix


def claimed() -> dict[str, str]:
    """Prefix -> owning feature (for tests and docs)."""
    return dict(_claimed)


def owner_of(custom_id: str) -> str | None:
    return next((owner for prefix, owner in _claimed.items() if custom_id.startswith(prefix)), None)
