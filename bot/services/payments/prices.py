"""The training price in ETH: Chainlink's ETH/USD feed on Base, and quotes that hold it.

`PriceFeed` reads an AggregatorV3 contract (`CHAINLINK_ETH_USD_FEED`). Several addresses
circulate for "the" feed, so `check()` asks the contract what it is (`description()` is
"ETH / USD", `decimals()` is 8) before any price is trusted, and every reading is refused
when the answer is not positive or was last updated too long ago.

`Quoter` turns the USD price into wei at the current rate, rounded up to what a person
reads (`SHOWN_DECIMALS` of ETH), valid for a while, and stores it with the chain's latest
block number: a payment counts only when mined after it. The rounded amount is the quote:
what the preview shows is exactly what must be paid, and never less than the USD price.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from bot.clients.chain import block_number
from bot.clients.rpc import JsonRpcClient, RpcError, RpcUnavailable
from bot.errors import ServiceUnavailable, UserFacingError
from storage import payments as store
from storage.db import Database
from storage.payments import Quote
from storage.timefmt import Clock, stored, utc_clock

log = logging.getLogger(__name__)

EXPECTED_DESCRIPTION = "ETH / USD"
EXPECTED_DECIMALS = 8
WEI_PER_ETH = 10**18
DEFAULT_MAX_AGE = timedelta(hours=1)
DEFAULT_VALIDITY = timedelta(minutes=15)
SHOWN_DECIMALS = 6  # ETH decimals a quote has: "0.001334 ETH", not 18 digits

# Selectors of AggregatorV3Interface.
DESCRIPTION = "0x7284e416"  # description()
DECIMALS = "0x313ce567"  # decimals()
LATEST_ROUND_DATA = "0xfeaf968c"  # latestRoundData()


class PriceFeedMisconfigured(UserFacingError):
    """CHAINLINK_ETH_USD_FEED is not an 8-decimal ETH / USD feed on this chain.

    `message` is for users; `detail` (also `str(exc)`) is for the operator."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "Training payments are paused: the bot's ETH price source is misconfigured. "
            "A server admin needs to fix CHAINLINK_ETH_USD_FEED (the bot's logs say what is "
            "wrong)."
        )
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


class PriceUnavailable(ServiceUnavailable):
    """The feed answered, but with a price that must not be used (stale, not positive)."""

    def __init__(self, reason: str) -> None:
        super().__init__("The ETH price feed")
        self.reason = reason
        self.message = (
            f"The ETH price feed {reason}, so the bot can't quote a price right now. "
            "Please try again later; nothing was charged."
        )
        self.args = (self.message,)


@dataclass(frozen=True, slots=True)
class PriceReading:
    eth_usd: Decimal
    round_id: int
    updated_at: datetime


def wei_for(usd: Decimal, eth_usd: Decimal) -> int:
    """ceil(usd / eth_usd * 10^18), exactly (fractions, never floats)."""
    if usd <= 0 or eth_usd <= 0:
        raise ValueError("prices must be positive")
    exact = Fraction(usd) * WEI_PER_ETH / Fraction(eth_usd)
    return -(-exact.numerator // exact.denominator)


def readable_wei(wei: int, decimals: int = SHOWN_DECIMALS) -> int:
    """`wei` rounded up to a multiple of 10^-`decimals` ETH (never down: the user pays at
    least the exact price)."""
    step: int = 10 ** (18 - decimals)
    return -(-wei // step) * step


def format_eth(wei: int) -> str:
    """`1234500000000000` -> "0.0012345 ETH": every digit that matters, none that does not."""
    text = format(Decimal(wei).scaleb(-18), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} ETH"


class PriceFeed:
    def __init__(
        self,
        rpc: JsonRpcClient,
        feed_address: str,
        *,
        max_age: timedelta = DEFAULT_MAX_AGE,
        clock: Clock = utc_clock,
    ) -> None:
        self.rpc = rpc
        self.address = feed_address
        self.max_age = max_age
        self.clock = clock
        self._checked = False

    async def check(self) -> None:
        """Refuse a feed that is not ETH / USD with 8 decimals (PriceFeedMisconfigured,
        naming CHAINLINK_ETH_USD_FEED). Raises RpcUnavailable when the node is down."""
        where = f"CHAINLINK_ETH_USD_FEED ({self.address})"
        try:
            code = await self.rpc.get_code(self.address)
        except RpcError as exc:
            raise RpcUnavailable(f"eth_getCode: {exc}") from None
        if code == "0x":
            raise self._misconfigured(
                f"{where} has no contract on this chain: set it to the ETH / USD feed on Base"
            )
        description = await self._read(DESCRIPTION, "string", where, "description()")
        if description != EXPECTED_DESCRIPTION:
            raise self._misconfigured(
                f"{where} is the {description!r} feed, not {EXPECTED_DESCRIPTION!r}: "
                "set it to the ETH / USD feed on Base"
            )
        decimals = await self._read(DECIMALS, "uint8", where, "decimals()")
        if decimals != EXPECTED_DECIMALS:
            raise self._misconfigured(
                f"{where} reports {decimals} decimals, expected {EXPECTED_DECIMALS}: "
                "it is not Chainlink's ETH / USD feed"
            )
        self._checked = True
        log.info("price feed checked", extra={"feed": self.address})

    async def latest(self) -> PriceReading:
        """The current ETH/USD price. Raises PriceUnavailable when the feed's answer is
        not positive or older than `max_age`; checks the feed first if not done yet."""
        if not self._checked:
            await self.check()
        try:
            raw = await self.rpc.eth_call(self.address, LATEST_ROUND_DATA)
            round_id, answer, _started, updated_at, _answered = decode(
                ["uint80", "int256", "uint256", "uint256", "uint80"], bytes.fromhex(raw[2:])
            )
        except (RpcError, DecodingError) as exc:
            log.warning("price feed latestRoundData() failed: %s", exc)
            raise PriceUnavailable("did not answer") from None
        if answer <= 0:
            log.warning("price feed answered %s", answer)
            raise PriceUnavailable("reported no valid price")
        updated = datetime.fromtimestamp(updated_at, UTC)
        age = self.clock() - updated
        if age > self.max_age:
            log.warning("price feed is stale", extra={"updated_at": updated.isoformat()})
            raise PriceUnavailable("looks stale (its last update is too old)")
        return PriceReading(Decimal(answer).scaleb(-EXPECTED_DECIMALS), int(round_id), updated)

    async def eth_usd(self) -> Decimal:
        return (await self.latest()).eth_usd

    async def _read(self, selector: str, kind: str, where: str, what: str) -> object:
        try:
            raw = await self.rpc.eth_call(self.address, selector)
            (value,) = decode([kind], bytes.fromhex(raw[2:]))
        except RpcError as exc:
            if not exc.is_revert:  # the node's trouble (rate limit, internal error)
                raise RpcUnavailable(f"eth_call {what}: {exc}") from None
            raise self._misconfigured(f"{where} reverts on {what}: not a Chainlink feed") from None
        except (DecodingError, ValueError) as exc:  # ValueError: a string that is not UTF-8
            raise self._misconfigured(
                f"{where} does not answer {what} like a Chainlink feed ({exc})"
            ) from None
        return value

    def _misconfigured(self, detail: str) -> PriceFeedMisconfigured:
        log.error("price feed misconfigured: %s", detail)
        return PriceFeedMisconfigured(detail)


class Quoter:
    """Quotes of `price_usd` in ETH, stored so the payment can be checked against them."""

    def __init__(
        self,
        db: Database,
        feed: PriceFeed,
        price_usd: Decimal,
        *,
        validity: timedelta = DEFAULT_VALIDITY,
        clock: Clock = utc_clock,
    ) -> None:
        if price_usd <= 0:
            raise ValueError("price_usd must be positive")
        self.db = db
        self.feed = feed
        self.price_usd = price_usd
        self.validity = validity
        self.clock = clock

    async def quote(self, wallet: str, discord_user_id: int) -> Quote:
        """A fresh quote for this user and wallet. Raises PriceUnavailable,
        PriceFeedMisconfigured or RpcUnavailable (nothing stored then)."""
        eth_usd = await self.feed.eth_usd()
        # Read after the price: a payment must be mined in a later block than this one.
        created_block = await block_number(self.feed.rpc)
        now = stored(self.clock())
        quote = Quote(
            id=secrets.token_hex(16),
            discord_user_id=discord_user_id,
            wallet=wallet,
            usd=self.price_usd,
            wei=readable_wei(wei_for(self.price_usd, eth_usd)),
            eth_usd=eth_usd,
            created_at=now,
            expires_at=now + self.validity,
            created_block=created_block,
        )
        await store.insert_quote(self.db, quote)
        log.info("price quoted", extra={"quote_id": quote.id, "wei": str(quote.wei)})
        return quote

    async def get(self, quote_id: str) -> Quote | None:
        return await store.get_quote(self.db, quote_id)


__all__ = [
    "PriceFeed",
    "PriceFeedMisconfigured",
    "PriceReading",
    "PriceUnavailable",
    "Quote",
    "Quoter",
    "format_eth",
    "readable_wei",
    "wei_for",
]
