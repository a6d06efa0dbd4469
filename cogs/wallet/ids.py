"""The /wallet custom_ids, built and parsed only here:

wallet:paste:<token>              Sign elsewhere / Paste signature (the address, then the signature modal)
wallet:address:<token>            the address modal
wallet:signature:<token>          the signature modal
wallet:unlink:<user id>:yes|no    the unlink confirmation (its user only)
wallet:start                      Link wallet (on refusals and /help): what /wallet link does
"""

from __future__ import annotations

from cogs.common.custom_ids import claim, secret_after

# The link token is a credential: logs show its hash (`wallet:paste:#3f2a9c1d`).
PREFIX = claim(
    "wallet:",
    "wallet",
    redact=secret_after(2, only=("wallet:paste:", "wallet:address:", "wallet:signature:")),
)
# The shape of a link token (random, URL-safe), as it appears in custom_ids.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{20,64}"  # noqa: S105
PASTE_TEMPLATE = rf"wallet:paste:(?P<token>{TOKEN_PATTERN})"
UNLINK_TEMPLATE = r"wallet:unlink:(?P<user>[0-9]{1,25}):(?P<choice>yes|no)"
START_ID = f"{PREFIX}start"
START_TEMPLATE = START_ID


def paste_id(token: str) -> str:
    return f"{PREFIX}paste:{token}"


def address_modal_id(token: str) -> str:
    return f"{PREFIX}address:{token}"


def signature_modal_id(token: str) -> str:
    return f"{PREFIX}signature:{token}"


def unlink_id(user_id: int, choice: str) -> str:
    return f"{PREFIX}unlink:{user_id}:{choice}"
