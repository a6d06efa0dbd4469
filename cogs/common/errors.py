"""The one place where an interaction's error becomes a private message.

Used by the command tree, by every view (buttons, selects) and by every modal, so a
user always gets the same kind of answer: what happened, what to do, and a reference
id that is also in the logs.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.errors import ServiceUnavailable, UserFacingError, new_ref
from bot.services.records import DatabaseError
from cogs.common.custom_ids import redacted
from cogs.common.text import discord_moment

log = logging.getLogger("bot.errors")
C = TypeVar("C", bound=discord.Client)

GENERIC = "Something went wrong (ref {ref}). It has been logged; please try again."


def _unwrap(error: BaseException) -> BaseException:
    # discord.py wraps whatever a command body raised; the cause is what matters.
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    return error


# Unknown interaction, Unknown webhook: its token is dead (acknowledged too late, or after
# 15 minutes), so nothing can be sent on it any more.
GONE = frozenset({10062, 10015})


def interaction_gone(error: BaseException) -> bool:
    return isinstance(error, discord.NotFound) and error.code in GONE


def _custom_id(interaction: discord.Interaction[C]) -> str | None:
    """The interaction's custom_id as logs may show it (secret parts hashed)."""
    data: dict[str, Any] = dict(interaction.data or {})
    value = data.get("custom_id")
    return redacted(str(value)) if value is not None else None


def can_retry(error: BaseException) -> bool:
    """Errors that may well pass if the user simply tries again."""
    return isinstance(_unwrap(error), DatabaseError | ServiceUnavailable)


def describe(error: BaseException, ref: str, *, retry: bool = False) -> tuple[str, bool]:
    """Return the user's message and whether the error is unexpected (log a traceback).
    `retry`: the message comes with a Retry button."""
    error = _unwrap(error)
    if isinstance(error, UserFacingError):
        return f"{error.render(discord_moment)} (ref {ref})", False
    if isinstance(error, DatabaseError):
        if error.is_full:
            return (
                "The bot's storage is full, so nothing new can be saved right now; nothing "
                f"already saved is lost. A server admin needs to free disk space (ref {ref}).",
                True,
            )
        then = "Press Retry in a moment" if retry else "Please try again in a minute"
        return f"The bot's database isn't answering right now. {then} (ref {ref}).", True
    if isinstance(error, app_commands.CommandOnCooldown):
        seconds = max(1, round(error.retry_after))
        return f"Slow down: you can do that again in {seconds} s (ref {ref}).", False
    if isinstance(error, app_commands.NoPrivateMessage):
        return f"This command only works in a server, not in DMs (ref {ref}).", False
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"You need the {perms} permission for that (ref {ref}).", False
    if isinstance(error, app_commands.BotMissingPermissions):
        perms = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return (
            f"I'm missing the {perms} permission here. Ask a server admin to grant it (ref {ref}).",
            False,
        )
    if isinstance(error, app_commands.TransformerError):
        return (
            f"I couldn't understand {error.value!r} as a {error.type.name.lower()} (ref {ref}).",
            False,
        )
    if isinstance(error, app_commands.CheckFailure):
        return f"You can't use this here (ref {ref}).", False
    if isinstance(error, discord.Forbidden):
        return (
            f"Discord refused: I'm missing a permission in this channel. Ask a server admin "
            f"(ref {ref}).",
            True,
        )
    return GENERIC.format(ref=ref), True


async def report(
    interaction: discord.Interaction[C],
    error: BaseException,
    *,
    retry: discord.ui.Item[Any] | None = None,
    fix: discord.ui.Item[Any] | None = None,
    prefix: str = "",
) -> str:
    """Log `error` and tell the user privately. Returns the ref used.

    `retry`: a button that repeats what failed (a `DynamicItem`, so it works whenever
    it is pressed), shown when the error is one that trying again can fix. `prefix`
    says what failed ("Couldn't generate: "). `fix`: a button that fixes the refusal
    (Link wallet), always shown."""
    ref = new_ref()
    view: discord.ui.View | None = None
    offers_retry = retry is not None and can_retry(error)
    if offers_retry or fix is not None:
        view = discord.ui.View(timeout=None)
        for item in (fix, retry if offers_retry else None):
            if item is not None:
                view.add_item(item)
    message, unexpected = describe(error, ref, retry=offers_retry)
    message = prefix + message
    context = {
        "ref": ref,
        "interaction_id": str(interaction.id),
        "user_id": str(interaction.user.id) if interaction.user else None,
        "command": interaction.command.qualified_name if interaction.command else None,
        "custom_id": _custom_id(interaction),
    }
    cause = _unwrap(error)
    if interaction_gone(cause):
        # No one to tell, and under overload a traceback and a doomed error message per
        # lost interaction would cost the next interactions their 3 seconds too.
        log.info("interaction gone before the answer", extra=context)
        return ref
    if unexpected:
        log.error("interaction failed", extra=context, exc_info=cause)
    else:
        log.info("interaction refused: %s", type(cause).__name__, extra=context)

    if interaction.type is discord.InteractionType.autocomplete:
        if not interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.autocomplete([])
        return ref
    extra: dict[str, Any] = {} if view is None else {"view": view}
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, **extra)
        else:
            await interaction.response.send_message(message, ephemeral=True, **extra)
    except discord.HTTPException:
        # The token may have expired (15 min) or the interaction vanished: the log has it.
        log.warning("could not deliver error message", extra=context, exc_info=True)
    return ref


def report_background(what: str, error: BaseException, **context: Any) -> str:
    """A failure with nobody to answer (a progress edit, a mention): logged with a ref."""
    ref = new_ref()
    log.warning("%s failed", what, extra={"ref": ref, **context}, exc_info=error)
    return ref
