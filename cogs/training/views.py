"""The /train buttons. State lives in each custom_id:

train:go:<order>      start the training (a credit or an admin wallet pays)
train:tx:<order>      paste the payment's transaction hash (opens a modal)
train:check:<order>   check the pasted payment again (waiting for confirmations)
train:drop:<order>    cancel the request before anything is submitted
train:stop:<lora>     cancel a training fal has not started yet (its owner only)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.errors import UserFacingError
from cogs.common.errors import ReportingModal
from cogs.common.respond import guarded

_ID = r"[0-9a-f]{32}"
COG_NAME = "Training"
Flow = Callable[..., Awaitable[None]]


def flow(client: discord.Client, name: str) -> Flow:
    handler = getattr(client.get_cog(COG_NAME), name, None)  # type: ignore[attr-defined]
    if handler is None:
        raise UserFacingError("Training is not available right now. Try again shortly.")
    return handler  # type: ignore[no-any-return]


class StaleTrainButton(UserFacingError):
    def __init__(self) -> None:
        super().__init__("That button isn't one I can use any more. Run /train again.")


def _checked(value: str) -> str:
    if not re.fullmatch(_ID, value):
        raise StaleTrainButton()
    return value


def button(kind: str, key: str, label: str, style: discord.ButtonStyle) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=label, style=style, custom_id=f"train:{kind}:{key}")


class TrainButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"train:(?P<kind>go|tx|check|drop|stop):(?P<key>.{0,90})",
):
    LABELS = {
        "go": ("Start training", discord.ButtonStyle.success),
        "tx": ("Paste transaction hash", discord.ButtonStyle.primary),
        "check": ("Check payment", discord.ButtonStyle.primary),
        "drop": ("Cancel", discord.ButtonStyle.secondary),
        "stop": ("Cancel training", discord.ButtonStyle.danger),
    }

    def __init__(self, kind: str, key: str) -> None:
        label, style = self.LABELS[kind]
        super().__init__(button(kind, key, label, style))
        self.kind, self.key = kind, key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> TrainButton:
        return cls(match["kind"], match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def work() -> None:
            key = _checked(self.key)
            if self.kind == "tx":
                await interaction.response.send_modal(TxHashModal(key))
                return
            await flow(interaction.client, f"on_{self.kind}")(interaction, key)

        await guarded(interaction, work, None)


class TxHashModal(ReportingModal, title="Your payment"):
    tx_hash: discord.ui.TextInput[TxHashModal] = discord.ui.TextInput(
        label="Transaction hash",
        custom_id="tx_hash",
        placeholder="0x… (66 characters)",
        min_length=10,
        max_length=100,
    )

    def __init__(self, order_id: str) -> None:
        super().__init__(custom_id=f"train:hash:{order_id}", timeout=900)
        self.order_id = order_id

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await flow(interaction.client, "on_paid")(interaction, self.order_id, self.tx_hash.value)


def view_of(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view
