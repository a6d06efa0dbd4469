"""What /help shows: three steps (link a wallet, train, generate) ticked from the user's
real state, the price and the daily quota, every command as a clickable mention."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import discord

from bot.services.standing import Standing
from cogs.common.text import short_address
from cogs.help.mentions import mention

INTRO = (
    "Train a FLUX LoRA on the images of an Are.na channel, browse every LoRA trained "
    "here, and generate images from any of them."
)
DONE, TODO = "✓", "○"


@dataclass(frozen=True, slots=True)
class HelpFacts:
    price_usd: Decimal
    daily_generations: int


def usd(price: Decimal) -> str:
    """$4, $4.50: whole dollars without cents; cents rounded up (never below the price)."""
    if price == price.to_integral_value():
        return f"${price:.0f}"
    return f"${price.quantize(Decimal('0.01'), rounding=ROUND_CEILING)}"


def steps(standing: Standing | None, facts: HelpFacts, ids: Mapping[str, int]) -> str:
    """`standing` None: the database did not answer, so nothing is ticked."""

    def m(name: str) -> str:
        return mention(ids, name)

    def tick(done: bool) -> str:
        return DONE if done else TODO

    linked = standing is not None and standing.link is not None
    wallet_note = ""
    if standing is not None and standing.link is not None:
        wallet_note = f" Linked: `{short_address(standing.link.wallet_address)}`."
    trained = standing is not None and standing.can_generate
    train_note = ""
    if standing is not None and standing.unused_credits:
        count = standing.unused_credits
        train_note = f" You have {count} unused training credit{'s' if count != 1 else ''}."
    elif standing is not None and standing.has_finished_lora:
        train_note = " You have a finished LoRA."
    generated = standing is not None and standing.has_generated
    quota_note = ""
    if standing is not None and standing.quota is not None:
        quota_note = f" Now: {standing.quota.describe()}."
    return "\n".join(
        (
            f"{tick(linked)} **1. Link a wallet** — {m('wallet link')} proves an Ethereum "
            f"wallet is yours (trainings are paid and generations counted per wallet)."
            + wallet_note,
            f"{tick(trained)} **2. Train a LoRA** — {m('train')} trains one on an Are.na "
            f"channel's images for {usd(facts.price_usd)} in ETH on Base; {m('trainings')} "
            "follows yours. Or skip this and use anyone's from " + m("loras") + "." + train_note,
            f"{tick(generated)} **3. Generate** — {m('generate')} draws four images from any "
            f"finished LoRA, {facts.daily_generations} times per 24 h per wallet." + quota_note,
        )
    )


def command_lines(commands: Iterable[tuple[str, str]], ids: Mapping[str, int]) -> list[str]:
    """(qualified name, description) -> `</name:id> — description`, by name."""
    return [f"{mention(ids, name)} — {text}" for name, text in sorted(commands)]


def help_embed(
    standing: Standing | None,
    facts: HelpFacts,
    ids: Mapping[str, int],
    commands: Iterable[tuple[str, str]],
) -> discord.Embed:
    embed = discord.Embed(
        title="LoRA trainer",
        description=f"{INTRO}\n\n{steps(standing, facts, ids)}",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(
        name="Commands", value="\n".join(command_lines(commands, ids))[:1024], inline=False
    )
    if standing is None:
        embed.set_footer(text="Your progress could not be read just now; try /help again.")
    return embed
