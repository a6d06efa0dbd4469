"""What a training looks like in Discord: the progress message and the final mention."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord

from bot.clients.fal_training import TrainingStatus
from bot.services.training.watcher import TrainingOutcome
from cogs.common.text import safe
from storage.trainings import WatchedTraining

BAR_WIDTH = 20
_ID = re.compile(r"[0-9a-f]{32}")


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return (
        "▰" * filled
        + "▱" * (BAR_WIDTH - filled)
        + f" {done}/{total} steps ({done * 100 // max(total, 1)}%)"
    )


def _elapsed(created_at: str) -> str:
    try:
        started = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    minutes = int((datetime.now(UTC) - started).total_seconds() // 60)
    return f" · {minutes} min so far" if minutes >= 1 else ""


def progress_embed(training: WatchedTraining, status: TrainingStatus | None) -> discord.Embed:
    embed = discord.Embed(
        title=f"Training {safe(training.trigger_word, 200, single_line=True)}",
        colour=discord.Colour.blurple(),
    )
    if status is None or status.state == "queued":
        position = status.queue_position if status else None
        text = (
            "Submitted to fal.ai."
            if position is None
            else (
                "Next in fal.ai's queue."
                if position == 0
                else f"Waiting in fal.ai's queue: position {position}."
            )
        )
    elif status.steps_done is not None and status.steps_total:
        text = progress_bar(status.steps_done, status.steps_total)
    else:
        text = "Training has started."
    embed.description = text + _elapsed(training.created_at)
    embed.set_footer(text=f"LoRA {training.lora_id}")
    return embed


def finished_embed(training: WatchedTraining, outcome: TrainingOutcome) -> discord.Embed:
    if outcome.status == "completed":
        return discord.Embed(
            title=f"Trained {safe(training.trigger_word, 200, single_line=True)}",
            description="Your LoRA is ready. Open it in the gallery or generate images with it.",
            colour=discord.Colour.green(),
        ).set_footer(text=f"LoRA {training.lora_id}")
    reason = safe(outcome.error or "fal.ai reported an error", 900)
    return discord.Embed(
        title=f"Training {safe(training.trigger_word, 200, single_line=True)} failed",
        description=(
            f"{reason}\nYour payment is kept as a credit: the next /train uses it without "
            "paying again."
        ),
        colour=discord.Colour.red(),
    ).set_footer(text=f"LoRA {training.lora_id}")


def finished_view(training: WatchedTraining, outcome: TrainingOutcome) -> discord.ui.View | None:
    if outcome.status != "completed" or not _ID.fullmatch(training.lora_id):
        return None
    view = discord.ui.View(timeout=None)
    # Both custom_ids are handled by the /generate cog's buttons (state in the id).
    view.add_item(
        discord.ui.Button(label="Open in gallery", custom_id=f"gen:lora:{training.lora_id}")
    )
    view.add_item(
        discord.ui.Button(
            label="Generate images",
            custom_id=f"gen:open:{training.lora_id}",
            style=discord.ButtonStyle.primary,
        )
    )
    return view


def mention_of(training: WatchedTraining) -> tuple[str, discord.AllowedMentions]:
    """The one mention that may ping: the owner, when their training finishes."""
    user = discord.Object(id=training.discord_user_id or 0)
    return f"<@{training.discord_user_id}>", discord.AllowedMentions(
        everyone=False, roles=False, users=[user], replied_user=False
    )
