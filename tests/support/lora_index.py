"""The autocomplete index is loaded when the bot starts and takes later writes from the
change log within a check (`bot.services.lora_index`); a test that writes LoRAs and then
types takes them in at once instead of waiting for the next check."""

from __future__ import annotations

from bot.app import LoraBot


async def index_sees_writes(bot: LoraBot) -> None:
    index = bot.services.gallery.index
    assert index is not None
    await index.refresh()
