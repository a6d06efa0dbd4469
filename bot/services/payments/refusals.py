"""Why a payment was refused: one `PaymentRefused` subclass per reason, each saying what
happened and what to do next. (A payment still on its way is not refused: the verifier
returns `PaymentPending`.)"""

from __future__ import annotations

from datetime import datetime

from eth_utils.address import is_address, to_checksum_address

from bot.errors import Moment, UserFacingError
from bot.services.payments.prices import format_eth
from bot.services.text import short_address as _short

ASK_AN_ADMIN = (
    "Nothing is lost: give a server admin the transaction hash; they can check it and "
    "grant you a training credit (`lora-bot admin grant-credit`)."
)


def short_address(address: str) -> str:
    """0x1234…abcd in EIP-55 case, as wallets and basescan show it."""
    return _short(to_checksum_address(address) if is_address(address) else address)


class PaymentRefused(UserFacingError):
    """A payment that cannot buy a training (as it is)."""


class InvalidTransactionHash(PaymentRefused):
    def __init__(self) -> None:
        super().__init__(
            "That doesn't look like a transaction hash. Paste the hash of your payment: "
            "0x followed by 64 hexadecimal characters (your wallet or basescan.org shows it)."
        )


class QuoteNotFound(PaymentRefused):
    def __init__(self) -> None:
        super().__init__(
            "This payment request is unknown or isn't yours. Run /train again to get a price."
        )


class QuoteWalletChanged(PaymentRefused):
    def __init__(self, quoted_wallet: str, wallet: str) -> None:
        super().__init__(
            f"This price was quoted for wallet {short_address(quoted_wallet)}, but your linked "
            f"wallet is now {short_address(wallet)}. Run /train again to get a price for it."
        )


class QuoteExpired(PaymentRefused):
    """The quote ran out before any payment for it was mined."""

    def __init__(self, expires_at: datetime, *, pending: bool = False) -> None:
        if pending:
            detail = (
                "and your transaction is still not mined, so it will arrive too late for "
                "this price. If it goes through, a server admin can check it and grant you a "
                "training credit (`lora-bot admin grant-credit`)."
            )
        else:
            detail = "and no transaction with this hash is on Base."
        super().__init__(
            "This price quote expired ",
            Moment(expires_at, "relative"),
            f", {detail} Run /train again for a fresh price.",
        )
        self.expires_at = expires_at


class PaymentAfterExpiry(PaymentRefused):
    def __init__(self, mined_at: datetime, expires_at: datetime) -> None:
        super().__init__(
            "Your payment was mined at ",
            Moment(mined_at),
            ", after this price quote expired (",
            Moment(expires_at),
            f"), so it doesn't match the quoted price. {ASK_AN_ADMIN}",
        )
        self.mined_at = mined_at
        self.expires_at = expires_at


class WrongChain(PaymentRefused):
    """The bot's RPC endpoint is not Base: an operator problem, said plainly."""

    def __init__(self, actual: int, expected: int) -> None:
        super().__init__(
            f"The bot is connected to the wrong network (chain {actual}, not Base {expected}), "
            "so it can't check payments. Nothing is lost: tell a server admin (they need to fix "
            "BASE_RPC_URL), and press Check again once it's fixed."
        )
        self.actual = actual
        self.expected = expected


class TransactionNotFound(PaymentRefused):
    def __init__(self) -> None:
        super().__init__(
            "Transaction not found yet: if you just sent it, wait a few seconds and press "
            "Check again. It must be a transaction on Base (not Ethereum mainnet or another "
            "network)."
        )


class TransactionFailed(PaymentRefused):
    def __init__(self) -> None:
        super().__init__(
            "This transaction failed on Base (it reverted), so no ETH was transferred. "
            "Send the payment again."
        )


class WrongSender(PaymentRefused):
    def __init__(self, sender: str, wallet: str) -> None:
        super().__init__(
            f"This transaction was sent from {short_address(sender)}, not from your linked "
            f"wallet {short_address(wallet)}. Pay from your linked wallet, or link the wallet "
            "you paid from with /wallet link and run /train again."
        )


class WrongRecipient(PaymentRefused):
    def __init__(self, recipient: str | None, treasury: str) -> None:
        where = short_address(recipient) if recipient else "a new contract"
        super().__init__(
            f"This transaction paid {where}, not the bot's payment address {treasury}. "
            "Only payments to that address count."
        )


class Underpaid(PaymentRefused):
    """A transaction to the treasury that sent nothing (a part that sent something is
    recorded and can be topped up: `PaymentPartial`)."""

    def __init__(self, sent_wei: int, needed_wei: int) -> None:
        super().__init__(
            f"This payment sent {format_eth(sent_wei)}, but the quoted price is "
            f"{format_eth(needed_wei)}, so it doesn't cover a training. Send the price from "
            "your linked wallet to the bot's payment address, then report that transaction."
        )
        self.sent_wei = sent_wei
        self.needed_wei = needed_wei


class PaidBeforeQuote(PaymentRefused):
    def __init__(self, tx_block: int, quote_block: int) -> None:
        super().__init__(
            f"This payment was made before the quote (block {tx_block}; the price was quoted "
            f"at block {quote_block}). Send a new payment for this quote; if the earlier one "
            "was meant for the bot, a server admin can check it and grant you a training "
            "credit (`lora-bot admin grant-credit`)."
        )


class PaymentAlreadyUsed(PaymentRefused):
    def __init__(self, *, by_you: bool) -> None:
        if by_you:
            text = (
                "This payment was already verified: it gave you a training credit "
                "(see /wallet status), and each payment pays for one training."
            )
        else:
            text = "This payment was already used. Each payment pays for one training."
        super().__init__(text)
        self.by_you = by_you


class SmartWalletPaymentUnsupported(PaymentRefused):
    def __init__(self) -> None:
        super().__init__(
            "Payments from smart wallets can't be verified yet: pay from a regular wallet, "
            "or give a server admin the transaction hash: they can check it and grant you a "
            "training credit (`lora-bot admin grant-credit`)."
        )


class NothingPaidFromWallet(PaymentRefused):
    """A smart-wallet (ERC-4337) transaction in which the wallet paid the treasury nothing."""

    def __init__(self, wallet: str, treasury: str) -> None:
        super().__init__(
            f"In this transaction your wallet {short_address(wallet)} sent nothing to the "
            f"bot's payment address {treasury} (or that transfer failed). Send the payment "
            "again."
        )


__all__ = [
    "InvalidTransactionHash",
    "NothingPaidFromWallet",
    "PaidBeforeQuote",
    "PaymentAfterExpiry",
    "PaymentAlreadyUsed",
    "PaymentRefused",
    "QuoteExpired",
    "QuoteNotFound",
    "QuoteWalletChanged",
    "SmartWalletPaymentUnsupported",
    "TransactionFailed",
    "TransactionNotFound",
    "Underpaid",
    "WrongChain",
    "WrongRecipient",
    "WrongSender",
]
