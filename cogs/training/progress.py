"""A training's one progress card, from queued to its end, and the short reply that
tells its owner it ended.

The card says who started it (a mention that never pings: embeds do not ping, and every
message here sets its allowed mentions), the Are.na channel, how many images and steps,
a thumbnail, then fal's queue position, then a progress bar with the time left (from
fal's logs) and since when it runs. Cancel is offered only while fal can still cancel
(the job is queued) and its owner has not asked already. At the end the same card is
edited into its final state: green "Trained" with Open and Generate, grey "Cancelled",
or red "failed" saying what to do, with Train again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import discord

from bot.services.records import (
    CardFacts,
    CardPlace,
    TrainingStatus,
    WatchedTraining,
    read_time,
    small_variant,
    utc_clock,
)
from bot.services.training.watcher import TrainingOutcome
from cogs.common.id_keys import NO_HANDLES
from cogs.common.text import safe, timestamp
from cogs.generate.ids import generate_id, open_lora_id

BAR_WIDTH = 20
NO_FACTS = CardFacts(None, None, 0, None, None, cancel_requested=False)


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return (
        "▰" * filled
        + "▱" * (BAR_WIDTH - filled)
        + f" {done}/{total} steps ({done * 100 // max(total, 1)}%)"
    )


def _word(training: WatchedTraining) -> str:
    return safe(training.trigger_word, 200, single_line=True)


def _since(created_at: str) -> str:
    started = read_time(created_at)
    return timestamp(int(started.timestamp()), "R") if started is not None else "just now"


def _about(training: WatchedTraining, facts: CardFacts) -> str:
    """Who started it, from which channel, with how much."""
    who = f"<@{training.discord_user_id}>" if training.discord_user_id else "the web app"
    lines = [f"Started by {who} {_since(training.created_at)}"]
    parts = []
    if facts.channel_slug:
        title = safe(facts.channel_title or facts.channel_slug, 100, single_line=True)
        title = title.replace("[", "\\[").replace("]", "\\]")  # inside the link's text
        url = f"https://www.are.na/channel/{quote(facts.channel_slug, safe='')}"
        parts.append(f"From [{title}]({url})")
    if facts.image_count:
        parts.append(f"{facts.image_count} images")
    if facts.steps:
        parts.append(f"{facts.steps} steps")
    if parts:
        lines.append(" · ".join(parts))
    return "\n".join(lines)


def _card(
    training: WatchedTraining, facts: CardFacts, title: str, colour: discord.Colour, news: str
) -> discord.Embed:
    embed = discord.Embed(
        title=title, description=f"{_about(training, facts)}\n\n{news}", colour=colour
    )
    thumb = facts.first_image_url
    if thumb and thumb.startswith(("https://", "http://")):
        embed.set_thumbnail(url=small_variant(thumb))
    return embed


def can_cancel(status: TrainingStatus | None, facts: CardFacts) -> bool:
    """fal cancels only a queued job; and once asked, asking again changes nothing."""
    queued = status is None or status.state == "queued"
    return queued and not facts.cancel_requested


def progress_news(status: TrainingStatus | None, facts: CardFacts) -> str:
    if facts.cancel_requested and (status is None or status.state == "queued"):
        return "**Cancelling…** fal.ai took the request; this card changes once it confirms."
    if status is None or status.state == "queued":
        position = status.queue_position if status else None
        if position is None:
            return "**Submitted** to fal.ai, waiting for a place in its queue."
        if position == 0:
            return "**Queued:** next in fal.ai's queue."
        ahead = "1 job" if position == 1 else f"{position} jobs"
        return f"**Queued:** {ahead} ahead of it in fal.ai's queue."
    if status.steps_done is not None and status.steps_total:
        text = progress_bar(status.steps_done, status.steps_total)
        if status.eta_seconds is not None and status.steps_done < status.steps_total:
            end = utc_clock() + timedelta(seconds=status.eta_seconds)
            text += f"\nDone {timestamp(int(end.timestamp()), 'R')} (fal.ai's estimate)"
        return text
    return "**Training** has started on fal.ai."


def progress_embed(
    training: WatchedTraining, status: TrainingStatus | None, facts: CardFacts = NO_FACTS
) -> discord.Embed:
    return _card(
        training,
        facts,
        f"Training {_word(training)}",
        discord.Colour.blurple(),
        progress_news(status, facts),
    )


def finished_embed(
    training: WatchedTraining, outcome: TrainingOutcome, facts: CardFacts = NO_FACTS
) -> discord.Embed:
    if outcome.status == "completed":
        return _card(
            training,
            facts,
            f"Trained {_word(training)}",
            discord.Colour.green(),
            f"**Ready.** Generate images with `{_word(training)}` in your prompt, or open it "
            "in the gallery.",
        )
    if outcome.cancelled:
        return _card(
            training,
            facts,
            f"Cancelled: {_word(training)}",
            discord.Colour.light_grey(),
            "You cancelled it before fal.ai started it. Your training credit is back: the "
            "next /train uses it without paying again.",
        )
    reason = safe(outcome.error or "fal.ai reported an error", 600)
    return _card(
        training,
        facts,
        f"Training {_word(training)} failed",
        discord.Colour.red(),
        f"fal.ai could not train it: {reason}\n"
        "Nothing is lost: your payment is kept as a training credit. Press **Train again** "
        "to retry with the same channel, trigger word and steps, or run /train with other "
        "images (it will not ask you to pay again).",
    )


def done_buttons(
    training: WatchedTraining, handles: Mapping[str, str] = NO_HANDLES
) -> list[discord.ui.Item[Any]]:
    """Open and Generate for a finished LoRA (both handled by the /generate feature's
    buttons, their state in the custom_id)."""
    open_id = open_lora_id(training.lora_id, handles)
    generate = generate_id(training.lora_id, handles)
    if open_id is None or generate is None:
        return []
    return [
        discord.ui.Button(label="Open in gallery", custom_id=open_id),
        discord.ui.Button(
            label="Generate images", custom_id=generate, style=discord.ButtonStyle.primary
        ),
    ]


def mention_content(training: WatchedTraining, outcome: TrainingOutcome) -> str:
    """The short reply to the card: the one message that pings, its owner only."""
    who, word = f"<@{training.discord_user_id}>", _word(training)
    if outcome.status == "completed":
        return f"{who} your LoRA **{word}** is ready."
    return f"{who} your training **{word}** failed; your credit is kept (see the card)."


def owner_only(training: WatchedTraining) -> discord.AllowedMentions:
    user = discord.Object(id=training.discord_user_id or 0)
    return discord.AllowedMentions(everyone=False, roles=False, users=[user], replied_user=False)


def card_url(guild_id: int | None, place: CardPlace) -> str:
    """A jump link to the card (`guild_id` None: a DM)."""
    where = str(guild_id) if guild_id else "@me"
    return f"https://discord.com/channels/{where}/{place.channel_id}/{place.message_id}"


def card_guild(client: discord.Client, place: CardPlace, fallback: int | None) -> int | None:
    """The card's server: its channel's, when the bot sees it; else where the user is."""
    channel = client.get_channel(place.channel_id)
    guild = getattr(channel, "guild", None)
    return guild.id if isinstance(guild, discord.Guild) else fallback


def open_progress(url: str) -> discord.ui.Button[Any]:
    return discord.ui.Button(label="Open progress", url=url)
