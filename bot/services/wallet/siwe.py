"""Sign-In with Ethereum (EIP-4361): build, parse and check messages and signatures.

`siwe` parses and prints messages; everything it leaves out is checked here (FACTS:
its `verify()` never checks chain id, URI, statement, issued-at age or replay, and
its contract-wallet path uses a synchronous web3 provider). Contract wallets are
checked by `contract_signatures` over our async JSON-RPC client instead.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_address, to_checksum_address

from bot.errors import UserFacingError

# SIWE times use the stored format, defined once in storage.timefmt (re-exported here).
from storage.timefmt import iso as iso
from storage.timefmt import parse_time as parse_time

with warnings.catch_warnings():
    # abnf 2.8 warns about redefined core rules while siwe loads its grammar.
    warnings.simplefilter("ignore")
    from siwe import SiweMessage

BASE_CHAIN_ID = 8453
MESSAGE_TTL = timedelta(minutes=10)
# Wallet and server clocks differ a little; beyond this an issued-at is suspicious.
CLOCK_SKEW = timedelta(minutes=2)
_HEX = re.compile(r"^(0x)?[0-9a-fA-F]*$")


class SiweError(UserFacingError):
    """Why a message or signature was refused, in words a user can act on."""


@dataclass(frozen=True, slots=True)
class Expectations:
    domain: str
    uri: str
    chain_id: int = BASE_CHAIN_ID
    nonce: str | None = None
    request_id: str | None = None
    statement: str | None = None
    max_age: timedelta | None = MESSAGE_TTL
    # How far in the future an issued-at may lie (clock skew); None: no limit.
    max_future: timedelta | None = CLOCK_SKEW


def checksum(address: str) -> str:
    """EIP-55 form of any-case input; refuses what is not an address."""
    address = address.strip()
    if not is_address(address) or not address.startswith("0x"):
        raise SiweError("That is not an Ethereum address (0x followed by 40 hex digits).")
    mixed_case = address != address.lower() and address[2:] != address[2:].upper()
    # Mixed case claims to be EIP-55: then it must be correct, or it has a typo.
    if mixed_case and to_checksum_address(address) != address:
        raise SiweError(
            "That address has a checksum error (a typo in its upper/lower case letters)."
        )
    return str(to_checksum_address(address))


def build_message(
    *,
    domain: str,
    uri: str,
    address: str,
    statement: str,
    nonce: str,
    issued_at: datetime,
    expires_at: datetime,
    request_id: str,
    chain_id: int = BASE_CHAIN_ID,
) -> str:
    """The EIP-4361 text a wallet shows and signs."""
    try:
        message = SiweMessage(
            domain=domain,
            address=checksum(address),
            statement=statement,
            uri=uri,
            version="1",
            chain_id=chain_id,
            nonce=nonce,
            issued_at=iso(issued_at),
            expiration_time=iso(expires_at),
            request_id=request_id,
        )
    except ValueError as exc:
        raise SiweError(f"The sign-in message could not be built: {exc}") from exc
    text: str = message.prepare_message()
    return text


def parse_message(text: str) -> SiweMessage:
    """Parse strictly by the EIP-4361 grammar."""
    try:
        message: SiweMessage = SiweMessage.from_message(text)
    except Exception as exc:  # the ABNF parser raises several unrelated types
        raise SiweError("This is not a valid Sign-In with Ethereum message.") from exc
    return message


def normalise_signature(raw: str | bytes) -> bytes:
    """Accept `0x…` hex (any case, surrounding spaces) or raw bytes; refuse the rest."""
    if isinstance(raw, bytes | bytearray):
        data = bytes(raw)
    else:
        text = "".join(str(raw).split())
        if not text or not _HEX.match(text):
            raise SiweError(
                "That signature is not hex (it should look like 0x followed by digits)."
            )
        text = text[2:] if text.startswith("0x") else text
        if len(text) % 2:
            raise SiweError("That signature has an odd number of hex digits: it was cut short.")
        data = bytes.fromhex(text)
    if len(data) < 65:
        raise SiweError(
            f"That signature is {len(data)} bytes long; a wallet signature is 65 bytes "
            "(132 characters with 0x). Copy it again, whole."
        )
    return data


def recover_signer(text: str, signature: bytes) -> str | None:
    """The EOA that made a 65-byte personal_sign signature, or None."""
    if len(signature) != 65:
        return None
    try:
        signer: str = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # malformed r/s/v raise assorted errors: not a valid signature
        return None
    return signer


def check_fields(message: SiweMessage, expected: Expectations, now: datetime) -> None:
    """Everything about a parsed message except its signature."""
    if message.domain != expected.domain:
        raise SiweError(
            f"This message is for {message.domain}, not {expected.domain}. "
            "Start again with /wallet link."
        )
    if str(message.uri) != expected.uri:
        raise SiweError(
            "This message names another web address (URI). Start again with /wallet link."
        )
    if int(message.chain_id) != expected.chain_id:
        raise SiweError(
            f"This message is for chain {message.chain_id}; the bot uses Base "
            f"(chain {expected.chain_id}). Start again with /wallet link."
        )
    if str(message.version) != "1":
        raise SiweError("Unsupported sign-in message version.")
    if expected.nonce is not None and message.nonce != expected.nonce:
        raise SiweError("This message's nonce is not the one the bot issued.")
    if expected.request_id is not None and message.request_id != expected.request_id:
        raise SiweError("This message belongs to another link request.")
    if expected.statement is not None and message.statement != expected.statement:
        raise SiweError("This message's statement was changed. Start again with /wallet link.")
    issued = parse_time(str(message.issued_at))
    if expected.max_future is not None and issued > now + expected.max_future:
        raise SiweError("This message is dated in the future. Check your device's clock.")
    if expected.max_age is not None and now - issued > expected.max_age + CLOCK_SKEW:
        raise SiweError("This message is too old. Start again with /wallet link.")
    if message.expiration_time is not None and now >= parse_time(str(message.expiration_time)):
        raise SiweError("This message has expired. Start again with /wallet link.")
    if message.not_before is not None and now < parse_time(str(message.not_before)):
        raise SiweError("This message is not valid yet. Try again in a moment.")
