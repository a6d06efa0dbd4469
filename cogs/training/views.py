"""The /train buttons and the transaction-hash modal (custom_ids: `cogs.training.ids`).

Each kind of button runs one flow of `cogs.training.flows`, chosen from a table here:
no lookup by name, so a renamed flow is a type error, not a dead button.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.services.gallery import Gallery
from cogs.common.id_keys import handles_for, is_handle_key, read_handles
from cogs.common.interactions import BotItem, BotModal
from cogs.common.respond import Target, acknowledge
from cogs.training import flows, ids

if TYPE_CHECKING:
    from bot.app import LoraBot

Flow = Callable[["discord.Interaction[LoraBot]", str], Awaitable[None]]


class TrainButton(BotItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.TEMPLATE):
    LABELS: dict[ids.Kind, tuple[str, discord.ButtonStyle]] = {
        "go": ("Start training", discord.ButtonStyle.primary),
        "tx": ("I've paid — paste the hash", discord.ButtonStyle.primary),
        "check": ("Check payment", discord.ButtonStyle.primary),
        "drop": ("Cancel", discord.ButtonStyle.secondary),
        "stop": ("Cancel training", discord.ButtonStyle.secondary),
        "again": ("Train again", discord.ButtonStyle.primary),
    }

    def __init__(
        self, kind: ids.Kind, key: str, *, style: discord.ButtonStyle | None = None
    ) -> None:
        """`key`: as `ids.key_of` makes it (see `buttons_for`). `style`: another than the
        kind's own, where a screen has a different primary action."""
        label, own_style = self.LABELS[kind]
        super().__init__(
            discord.ui.Button(
                label=label, style=style or own_style, custom_id=ids.button_id(kind, key)
            )
        )
        self.kind, self.key = kind, key

    @classmethod
    def from_match(cls, match: re.Match[str]) -> TrainButton:
        return cls(ids.kind_of(match["kind"]), match["key"])

    async def run(self, interaction: discord.Interaction[LoraBot]) -> None:
        if self.kind == "tx":
            # A modal must be the first answer (it cannot follow a deferral), so the
            # handle lookup, the only database call on this path (none for the bot's own
            # ids), comes before it; the modal's submit acknowledges before its own work.
            await interaction.response.send_modal(TxHashModal(await self._row_id(interaction)))
            return
        target, flow = FLOWS[self.kind]
        await acknowledge(interaction, target)  # before the handle lookup and the flow's work
        await flow(interaction, await self._row_id(interaction))

    async def _row_id(self, interaction: discord.Interaction[LoraBot]) -> str:
        """The exact order or LoRA id this button's key stands for."""
        gallery = interaction.client.services.gallery
        handles = await read_handles(gallery, self.key) if is_handle_key(self.key) else {}
        return ids.checked_key(self.key, handles)


# How each flow is acknowledged: Start and Cancel move the preview itself (a deferred
# update; a stranger's refusal comes as a private followup, the preview unchanged); the
# others answer privately ("thinking…" only the presser sees).
FLOWS: dict[ids.Kind, tuple[Target, Flow]] = {
    "go": (Target.EDIT, flows.start),
    "check": (Target.PRIVATE, flows.check_payment),
    "drop": (Target.EDIT, flows.drop),
    "stop": (Target.PRIVATE, flows.cancel_training),
    "again": (Target.PRIVATE, flows.train_again),
}


class TxHashModal(BotModal, title="Your payment"):
    tx_hash: discord.ui.TextInput[TxHashModal] = discord.ui.TextInput(
        label="Transaction hash",
        custom_id="tx_hash",
        placeholder="0x… (66 characters)",
        min_length=10,
        max_length=100,
    )

    def __init__(self, order_id: str) -> None:
        super().__init__(custom_id=ids.hash_modal_id(order_id), timeout=900)
        self.order_id = order_id

    async def submit(self, interaction: discord.Interaction[LoraBot]) -> None:
        await flows.paid(interaction, self.order_id, self.tx_hash.value)


async def buttons_for(
    gallery: Gallery,
    row_id: str,
    *kinds: ids.Kind,
    secondary: tuple[ids.Kind, ...] = (),
) -> list[TrainButton]:
    """The buttons of these kinds for an order or LoRA id (a handle made if its id is
    too long to carry; none for an id over `id_keys.ID_MAX`); those in `secondary` grey."""
    key = ids.key_of(row_id, await handles_for(gallery, [row_id]))
    if key is None:
        return []
    grey = discord.ButtonStyle.secondary
    return [TrainButton(kind, key, style=grey if kind in secondary else None) for kind in kinds]


def view_of(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view
