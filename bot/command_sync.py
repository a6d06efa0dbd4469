"""Sync the command tree only when it changed, so restarts don't hit Discord's
command-sync rate limits while a newly added command still appears at the next start."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands

from storage import meta
from storage.db import Database

log = logging.getLogger(__name__)


def tree_payload(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> Any:
    commands = tree.get_commands(guild=guild)
    return sorted((c.to_dict(tree) for c in commands), key=lambda c: (c["type"], c["name"]))


def tree_hash(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> str:
    payload = json.dumps(tree_payload(tree, guild), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _key(application_id: int, guild_id: int | None) -> str:
    scope = f"guild:{guild_id}" if guild_id else "global"
    return f"command_tree_hash:{application_id}:{scope}"


async def sync_if_changed(
    tree: app_commands.CommandTree[Any],
    db: Database,
    application_id: int,
    *,
    guild_id: int | None = None,
    force: bool = False,
) -> bool:
    """Sync global commands (or one guild's, for development); return whether it synced."""
    guild = discord.Object(id=guild_id) if guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    digest = tree_hash(tree, guild)
    key = _key(application_id, guild_id)
    if not force and await meta.get(db, key) == digest:
        log.info("command tree unchanged, not syncing", extra={"scope": key})
        return False
    synced = await tree.sync(guild=guild)
    # Stored only after Discord accepted it, so a failed sync is retried next start.
    await meta.put(db, key, digest)
    log.info("command tree synced", extra={"scope": key, "commands": len(synced)})
    return True
