"""What a training looks like in Discord: the progress message and the final mention."""

from __future__ import annotations

from collections.abc import Mapping

import discord

from bot.services.records import TrainingStatus, WatchedTraining, read_time, utc_clock
from bot.services.training.desk import Preview
from bot.services.training.watcher import TrainingOutcome
from cogs.common.id_keys import NO_HANDLES
from cogs.common.text import safe, short_address, timestamp
from cogs.generate.ids import generate_id, open_lora_id

BAR_WIDTH = 20


def progress_bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return (
        "▰" * filled
        + "▱" * (BAR_WIDTH - filled)
        + f" {done}/{total} steps ({done * 100 // max(total, 1)}%)"
    )


def _elapsed(created_at: str) -> str:
    started = read_time(created_at)
    if started is None:
        return ""
    minutes = int((utc_clock() - started).total_seconds() // 60)
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
    if outcome.cancelled:
        return discord.Embed(
            title=f"Training {safe(training.trigger_word, 200, single_line=True)} cancelled",
            description=(
                "fal.ai confirmed the cancellation. Your training credit is back: the next "
                "/train uses it without paying again."
            ),
            colour=discord.Colour.light_grey(),
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


def finished_view(
    training: WatchedTraining,
    outcome: TrainingOutcome,
    handles: Mapping[str, str] = NO_HANDLES,
) -> discord.ui.View | None:
    """`handles`: id -> handle when the LoRA's id is too long to carry (`handles_for`)."""
    open_id = open_lora_id(training.lora_id, handles)
    generate = generate_id(training.lora_id, handles)
    if outcome.status != "completed" or open_id is None or generate is None:
        return None
    view = discord.ui.View(timeout=None)
    # Both custom_ids are handled by the /generate feature's buttons (state in the id).
    view.add_item(discord.ui.Button(label="Open in gallery", custom_id=open_id))
    view.add_item(
        discord.ui.Button(
            label="Generate images", custom_id=generate, style=discord.ButtonStyle.primary
        )
    )
    return view


def mention_of(
    training: WatchedTraining, outcome: TrainingOutcome
) -> tuple[str, discord.AllowedMentions]:
    """The one mention that may ping: the owner, when their training finishes (not when
    they cancelled it themselves: they know)."""
    if outcome.cancelled:
        return f"<@{training.discord_user_id}>", discord.AllowedMentions.none()
    user = discord.Object(id=training.discord_user_id or 0)
    return f"<@{training.discord_user_id}>", discord.AllowedMentions(
        everyone=False, roles=False, users=[user], replied_user=False
    )


PREVIEW_THUMBNAILS = 4  # Discord shows up to 4 embeds sharing one `url` as one gallery


def preview_embeds(preview: Preview, *, pay_page: bool = False) -> list[discord.Embed]:
    """The /train preview: the card, then up to three more embeds with the card's `url`
    so the client groups the first four images into one gallery. `pay_page`: the
    browser-wallet button is offered."""
    channel, order, price = preview.channel, preview.order, preview.price
    if price.kind == "admin":
        cost = "Free (admin wallet). Press **Start training**."
    elif price.kind == "credit":
        cost = "Uses your training credit. Press **Start training**."
    else:
        until = (
            f", price held until {timestamp(int(price.expires_at.timestamp()), 'R')}"
            if price.expires_at
            else ""
        )
        how = "Press **Pay with a wallet**, or send it" if pay_page else "Send it"
        cost = (
            f"**{price.eth}** (about {price.usd}){until}. {how} on Base from your linked "
            f"wallet {short_address(order.wallet)} to the treasury below, then press "
            "**I've paid — paste the hash**. The training starts once it's confirmed."
        )
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(channel.skipped.items()))
    card = discord.Embed(
        title=f"Train “{order.trigger_word}” from {safe(channel.title, 150, single_line=True)}",
        url=f"https://www.are.na/channel/{order.channel_slug}",
        description=(
            f"{order.image_count} images"
            + (f" (skipped: {skipped})" if skipped else "")
            + f" · {order.steps} steps\n{cost}"
        ),
        colour=discord.Colour.blurple(),
    )
    thumbs = [image.thumb_url for image in channel.images if image.thumb_url]
    embeds = [card]
    for number, url in enumerate(thumbs[:PREVIEW_THUMBNAILS]):
        if number == 0:
            card.set_image(url=url)
        else:
            embeds.append(discord.Embed(url=card.url).set_image(url=url))
    if price.kind == "quote" and price.treasury:
        card.add_field(name="Treasury (Base)", value=f"`{price.treasury}`", inline=False)
    return embeds
