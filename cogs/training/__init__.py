"""The training feature: its cog, views and custom_ids (see the modules beside this one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import LoraBot


async def setup(bot: LoraBot) -> None:
    from cogs.training.cog import Training

    await bot.add_cog(Training(bot))
