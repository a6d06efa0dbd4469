"""Cogs: thin layers that turn Discord interactions into service calls.

Each feature adds its module here; the bot loads them in this order and skips (and
logs) one that fails to load.
"""

EXTENSIONS: tuple[str, ...] = (
    "cogs.help",
    "cogs.wallet",
    "cogs.gallery",
    "cogs.generate",
    "cogs.training",
)
