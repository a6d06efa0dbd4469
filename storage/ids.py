"""Ids of rows in the web app's tables, in the web app's shape.

The web app makes `lora_trainings.id` with SQLite's `hex(randomblob(16))`: 32 upper-case
hex digits. The bot makes its rows there (and in `generated_images`, whose seed names
an unspecified `generateId()`) in that same shape, so nothing tells the two apart. Rows
of the bot's own tables keep `secrets.token_hex(16)` (lower case)."""

from __future__ import annotations

import secrets


def web_app_id() -> str:
    """What `hex(randomblob(16))` returns: 16 random bytes as upper-case hex."""
    return secrets.token_bytes(16).hex().upper()
