"""What a /train request looks like in Discord before it is submitted (the preview).
The training's progress card and its end are in `progress.py`."""

from __future__ import annotations

import discord

from bot.services.training.desk import Preview
from cogs.common.text import safe, short_address


def preview_embeds(preview: Preview) -> list[discord.Embed]:
    channel, order, price = preview.channel, preview.order, preview.price
    if price.kind == "admin":
        cost = "Free (admin wallet)."
    elif price.kind == "credit":
        cost = "Uses your training credit."
    else:
        cost = (
            f"**{price.eth}** (about {price.usd}), valid 15 minutes. Send it on Base from "
            f"your linked wallet {short_address(order.wallet)} to the treasury, then press "
            "**Paste transaction hash**."
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
    embeds = [card]
    for image in channel.images[:4]:
        if image.thumb_url:
            if len(embeds) == 1:
                card.set_image(url=image.thumb_url)
            else:
                embeds.append(discord.Embed(url=card.url).set_image(url=image.thumb_url))
    if price.kind == "quote" and price.treasury:
        card.add_field(name="Treasury (Base)", value=f"`{price.treasury}`", inline=False)
    return embeds
