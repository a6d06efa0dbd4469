"""What a /train request looks like in Discord before it is submitted (the preview).
The training's progress card and its end are in `progress.py`."""

from __future__ import annotations

import discord

from bot.services.training.desk import Preview
from cogs.common.text import safe, short_address, timestamp

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
