"""The /train preview after it is sent: its buttons per state, and how it follows the
order's payment (`PreviewFollower`, the `Checkout`'s face in Discord).

One primary action at a time:

- admin wallet or an unused credit: **Start training**;
- a price, with the payment page (`PUBLIC_BASE_URL`): **Pay with a wallet** (a
  link) first, "I've paid — paste the hash" beside it in grey;
- a price, no page: **I've paid — paste the hash**;
- a payment under way (the page reported a sent transaction, a pasted hash waits for
  confirmations): **Check payment**, pasting another hash in grey, no second "Pay";
- part of the price paid: paying the rest, as for the price.

The preview is the ephemeral response to /train. Only that interaction's token can edit
it, and only for 15 minutes (Discord's limit; the quote holds as long). So the follower
keeps the interaction in memory, never in the database (a token is a credential, and the
web app reads that database): after a restart, or past 15 minutes, the preview cannot be
edited and stays as it was. Nothing depends on it: the progress card is posted in the
channel through the bot's own permissions, the payment page says the training started,
and the mention at the end links the result.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import discord

from bot.errors import Moment, UserFacingError
from bot.services.gallery import Gallery
from bot.services.payments.prices import format_eth
from bot.services.payments.verifier import PaymentPartial, PaymentPending
from bot.services.records import CardPlace, Order, WatchedTraining
from bot.services.training.submission import Submitted
from cogs.common.text import discord_moment, short_address
from cogs.training import progress
from cogs.training.ids import Kind, nonce_for
from cogs.training.payment_copy import rest_files

if TYPE_CHECKING:
    from bot.app import LoraBot

log = logging.getLogger(__name__)
MAX_REMEMBERED = 1000  # previews followed at once (15 minutes of /train each)


# `views` maps each button to a flow in `flows`, which uses this module: it is imported
# when first needed, so any of the three can be imported first.
async def _buttons(
    gallery: Gallery, row_id: str, *kinds: Kind, secondary: tuple[Kind, ...] = ()
) -> list[discord.ui.Item[Any]]:
    from cogs.training.views import buttons_for

    return list(await buttons_for(gallery, row_id, *kinds, secondary=secondary))


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    from cogs.training.views import view_of

    return view_of(*items)


def pay_url(bot: LoraBot, order_id: str) -> str | None:
    """The payment page of an order; None when the bot serves no page."""
    base = bot.settings.public_base_url
    if not base:
        return None
    return f"{str(base).rstrip('/')}/pay/{quote(order_id, safe='')}"


async def preview_view(
    bot: LoraBot,
    order_id: str,
    price_kind: str,
    seen: PaymentPending | PaymentPartial | None = None,
) -> discord.ui.View:
    """The preview's buttons; `seen`: the payment under way, if any."""
    gallery = bot.services.gallery
    if price_kind != "quote":
        return _view(*await _buttons(gallery, order_id, "go"))
    if isinstance(seen, PaymentPending):
        # Sent, not confirmed: checking is the action; paying again would pay twice.
        return _view(*await _buttons(gallery, order_id, "check", "tx", secondary=("tx",)))
    # Nothing paid yet, or a part (then the page asks for what is missing).
    items: list[discord.ui.Item[Any]] = []
    url = pay_url(bot, order_id)
    if url is not None:
        label = "Pay the rest with a wallet" if seen else "Pay with a wallet"
        items.append(discord.ui.Button(label=label, url=url))
    grey: tuple[Kind, ...] = ("tx",) if url is not None else ()
    items += await _buttons(gallery, order_id, "tx", secondary=grey)
    return _view(*items)


def started_text(submitted: Submitted, card_url: str | None) -> str:
    skipped = f" ({submitted.skipped} skipped)" if submitted.skipped else ""
    where = f"its progress card: {card_url}" if card_url else "its progress card in this channel"
    return (
        f"Training started: {submitted.image_count} images{skipped} submitted to fal.ai. "
        f"Follow it on {where}. You'll be mentioned when it's done."
    )


def seen_text(seen: PaymentPending | PaymentPartial) -> str:
    if isinstance(seen, PaymentPartial):
        until = discord_moment(Moment(seen.expires_at, "relative"))
        return (
            f"Received {format_eth(seen.total_wei)} of the {format_eth(seen.needed_wei)} this "
            f"training costs. Still missing: **{format_eth(seen.missing_wei)}**. Send at least "
            f"that from your linked wallet {short_address(seen.wallet)} to `{seen.treasury}` "
            f"on Base before the price expires ({until}), then report that transaction the "
            "same way: both payments count."
        )
    return (
        f"{seen.message} The training starts by itself once it's confirmed; "
        "**Check payment** asks again now."
    )


class PreviewFollower:
    """Shows the `Checkout`'s news on the /train preview and posts the progress card."""

    def __init__(self, bot: LoraBot) -> None:
        self.bot = bot
        self._previews: dict[str, discord.Interaction[LoraBot]] = {}
        self._cards: dict[str, str] = {}  # lora id -> the progress card's link
        self._shown: dict[str, str] = {}  # order id -> what its preview says now

    def remember(self, order_id: str, interaction: discord.Interaction[LoraBot]) -> None:
        """The /train interaction whose response is this order's preview."""
        for old in [k for k, ix in self._previews.items() if ix.is_expired()]:
            del self._previews[old]
            self._shown.pop(old, None)
        if len(self._previews) >= MAX_REMEMBERED:
            self._previews.pop(next(iter(self._previews)))
        self._previews[order_id] = interaction

    def forget(self, order_id: str) -> None:
        """A button on the preview answers in the preview itself (Start training): that
        click's flow says how it went, so the follower does not edit it twice."""
        self._previews.pop(order_id, None)
        self._shown.pop(order_id, None)

    async def announce(self, training: WatchedTraining) -> int | None:
        """Post the progress card (every road's start comes here, the payment page's
        too, which has no interaction: the channel is the order's)."""
        if training.channel_id is None:
            return None
        channel = self.bot.get_partial_messageable(training.channel_id)
        facts = await self.bot.services.training.card_of(training.lora_id) or progress.NO_FACTS
        # The watcher posts it when this cannot (a crash, an outage); the same nonce
        # makes Discord return one message when both try.
        message = await channel.send(
            embed=progress.progress_embed(training, None, facts),
            view=_view(*await _buttons(self.bot.services.gallery, training.lora_id, "stop")),
            nonce=nonce_for("progress", training.lora_id),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        place = CardPlace(training.channel_id, message.id)
        guild = message.guild.id if message.guild else None
        if guild is None:
            where = [
                ix.guild_id for ix in self._previews.values() if ix.channel_id == place.channel_id
            ]
            guild = progress.card_guild(self.bot, place, next(filter(None, where), None))
        if len(self._cards) >= MAX_REMEMBERED:
            self._cards.pop(next(iter(self._cards)))
        self._cards[training.lora_id] = progress.card_url(guild, place)
        return message.id

    def card_url(self, lora_id: str) -> str | None:
        return self._cards.get(lora_id)

    async def payment_seen(self, order: Order, seen: PaymentPending | PaymentPartial) -> None:
        text = seen_text(seen)
        if self._shown.get(order.id) == text:
            return  # the page asks every few seconds: edit only when something changed
        self._shown[order.id] = text
        view = await preview_view(self.bot, order.id, "quote", seen)
        # The preview's QR code asked for the whole price: after a part, one for the
        # rest; while a payment is unconfirmed, none (paying again would pay twice).
        files = rest_files(seen) if isinstance(seen, PaymentPartial) else []
        await self._edit(order.id, content=text, view=view, attachments=files)

    async def started(self, order: Order, submitted: Submitted) -> None:
        text = started_text(submitted, self.card_url(submitted.lora_id))
        await self._edit(order.id, content=text, embeds=[], view=None, attachments=[])
        self._previews.pop(order.id, None)
        self._shown.pop(order.id, None)

    async def not_started(self, order: Order, error: UserFacingError) -> None:
        view = await preview_view(self.bot, order.id, "credit")
        await self._edit(
            order.id,
            content=f"Not submitted: {error.render(discord_moment)}",
            view=view,
            attachments=[],  # paid: the payment QR code is done with
        )

    async def _edit(self, order_id: str, **changes: Any) -> None:
        interaction = self._previews.get(order_id)
        if interaction is None or interaction.is_expired():
            # Past the token's 15 minutes (or after a restart): an ephemeral message
            # cannot be edited any other way. The progress card still appears.
            self._previews.pop(order_id, None)
            return
        try:
            await interaction.edit_original_response(**changes)
        except discord.HTTPException as exc:
            log.info("could not edit the /train preview: %s", exc, extra={"order_id": order_id})
