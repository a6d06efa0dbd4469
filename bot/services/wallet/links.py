"""Linking a wallet to a Discord user: one-time tokens, the message, the proof.

Discord-free: the cog and the signing page both call `WalletLinker`, which returns
small dataclasses and raises `UserFacingError`s that say what to do next.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.clients.rpc import JsonRpcClient
from bot.errors import Moment, NotConfigured, UserFacingError
from bot.services.wallet.signatures import personal_message_hash, verify_contract_signature
from bot.services.wallet.siwe import (
    BASE_CHAIN_ID,
    MESSAGE_TTL,
    Expectations,
    SiweError,
    build_message,
    check_fields,
    checksum,
    normalise_signature,
    parse_message,
    recover_signer,
)
from storage import link_challenges, wallets
from storage.db import Database
from storage.link_challenges import Challenge
from storage.timefmt import Clock, iso, parse_time, utc_clock
from storage.wallets import WalletLink

log = logging.getLogger(__name__)

TOKEN_TTL = timedelta(minutes=10)
# Signature checks per token: each wrong one may cost RPC calls (a contract wallet's
# eth_getCode / eth_call), so a token dies after a few instead of allowing guesses forever.
MAX_SIGNATURE_ATTEMPTS = 5
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_NAME_UNSAFE = re.compile(r"[^a-z0-9._-]")


class LinkRefused(UserFacingError):
    """A link attempt that cannot succeed as it is; the message says why."""


class SlowDown(UserFacingError):
    pass


NOT_VALID = "This link is not valid. Run /wallet link in Discord for a new one."
ALREADY_USED = "This link was already used. Run /wallet link again to link another wallet."
EXPIRED = "This link has expired (links last 10 minutes). Run /wallet link again."
TOO_MANY_ATTEMPTS = (
    "This link has had too many attempts with a wrong signature. "
    "Run /wallet link again for a new one."
)


@dataclass(frozen=True, slots=True)
class SigningOrigin:
    """Where messages say they come from: the bot's page, or a configured domain."""

    domain: str
    uri: str

    @classmethod
    def from_settings(cls, public_base_url: str | None, siwe_domain: str | None) -> SigningOrigin:
        if public_base_url:
            parts = urlsplit(public_base_url)
            return cls(domain=parts.netloc, uri=f"{parts.scheme}://{parts.netloc}")
        if siwe_domain:
            return cls(domain=siwe_domain, uri=f"https://{siwe_domain}")
        raise NotConfigured("Wallet linking", ["PUBLIC_BASE_URL or SIWE_DOMAIN"])


@dataclass(frozen=True, slots=True)
class LinkResult:
    discord_user_id: int
    address: str
    proof: str
    challenge: Challenge


@dataclass(frozen=True, slots=True)
class OpenLink:
    expires_at: datetime
    user_name: str
    guild_name: str | None  # None: asked for in a direct message with the bot


def statement_for(user_id: int, user_name: str) -> str:
    # EIP-4361 statements allow only URI characters and spaces: keep the name's safe part.
    name = _NAME_UNSAFE.sub("", user_name.lower())[:32]
    who = f"@{name} (id {user_id})" if name else f"id {user_id}"
    return f"Link this wallet to Discord user {who} for the LoRA trainer bot."


class WalletLinker:
    def __init__(
        self,
        db: Database,
        origin: SigningOrigin | NotConfigured,
        *,
        rpc: JsonRpcClient | None = None,
        clock: Clock = utc_clock,
        max_open: int = 3,
        max_per_minute: int = 5,
        max_attempts: int = MAX_SIGNATURE_ATTEMPTS,
    ) -> None:
        self.db = db
        self._origin = origin
        self.rpc = rpc
        self.clock = clock
        self.max_open = max_open
        self.max_per_minute = max_per_minute
        self.max_attempts = max_attempts

    # --- start ------------------------------------------------------------------
    @property
    def origin(self) -> SigningOrigin:
        """Where messages say they come from; raises when linking is not configured."""
        if isinstance(self._origin, NotConfigured):
            raise self._origin
        return self._origin

    async def start(
        self, user_id: int, user_name: str, *, guild_name: str | None = None
    ) -> Challenge:
        self.origin  # noqa: B018 (refuse at once when linking is off)
        now = self.clock()
        challenge = Challenge(
            token=secrets.token_urlsafe(24),
            discord_user_id=user_id,
            discord_user_name=user_name[:100],
            nonce=secrets.token_hex(12),
            address=None,
            message=None,
            created_at=iso(now),
            expires_at=iso(now + TOKEN_TTL),
            consumed_at=None,
            application_id=None,
            interaction_token=None,
            message_id=None,
            # The message's Request ID: users paste the message into other tools, so it
            # must not be the token (a credential), only tell link requests apart.
            request_id=secrets.token_hex(8),
            guild_name=guild_name[:100] if guild_name else None,
        )
        refused = await link_challenges.create(
            self.db,
            challenge,
            now=iso(now),
            minute_ago=iso(now - timedelta(minutes=1)),
            max_open=self.max_open,
            max_per_minute=self.max_per_minute,
        )
        if refused is not None:
            if refused.open_now >= self.max_open and refused.oldest_open_expires_at:
                when = Moment(parse_time(refused.oldest_open_expires_at), "relative")
                raise SlowDown(
                    f"Slow down: you already have {refused.open_now} link requests open. "
                    "Finish one, or try again ",
                    when,
                    " when the oldest expires.",
                )
            raise SlowDown("Slow down: too many link requests in a minute. Try again shortly.")
        return challenge

    async def attach_interaction(
        self, token: str, application_id: int, interaction_token: str, message_id: int
    ) -> None:
        await link_challenges.attach_interaction(
            self.db, token, application_id, interaction_token, message_id
        )

    # --- the link itself -----------------------------------------------------------
    async def link_of(self, user_id: int) -> WalletLink | None:
        """The wallet this Discord user has proven, if any."""
        return await wallets.get_link(self.db, user_id)

    async def unlink(self, user_id: int) -> bool:
        """Forget the user's wallet; False if none was linked."""
        return await wallets.remove_link(self.db, user_id)

    # --- the message ----------------------------------------------------------------
    async def _open_challenge(self, token: str, user_id: int | None) -> Challenge:
        self.origin  # noqa: B018 (refuse at once when linking is off)
        if not _TOKEN.match(token or ""):
            raise LinkRefused(NOT_VALID)
        challenge = await link_challenges.get(self.db, token)
        if challenge is None:
            raise LinkRefused(NOT_VALID)
        if user_id is not None and challenge.discord_user_id != user_id:
            raise LinkRefused(
                "This link request belongs to someone else. Run /wallet link yourself."
            )
        if challenge.consumed_at is not None:
            raise LinkRefused(ALREADY_USED)
        # No request_id: made before migration 0010, when the token was the Request ID.
        # Such a link lives 10 minutes at most; rather than keep the token in messages,
        # it counts as expired and the user runs /wallet link again.
        if self.clock() >= parse_time(challenge.expires_at) or challenge.request_id is None:
            raise LinkRefused(EXPIRED)
        if challenge.signature_attempts >= self.max_attempts:
            raise LinkRefused(TOO_MANY_ATTEMPTS)
        return challenge

    async def check_open(self, token: str) -> datetime:
        """When the link behind `token` expires; raises `LinkRefused` saying why it
        cannot be used (unknown, used, expired, too many attempts)."""
        return (await self.open_link(token)).expires_at

    async def open_link(self, token: str) -> OpenLink:
        """What the signing page shows of an open link (its expiry, whom and which
        server it is for); raises `LinkRefused` like `check_open`."""
        challenge = await self._open_challenge(token, None)
        return OpenLink(
            expires_at=parse_time(challenge.expires_at),
            user_name=challenge.discord_user_name,
            guild_name=challenge.guild_name,
        )

    async def challenge_for(self, token: str, user_id: int) -> Challenge:
        """The open challenge behind `token`, if it is this user's."""
        return await self._open_challenge(token, user_id)

    def _expectations(self, challenge: Challenge) -> Expectations:
        return Expectations(
            domain=self.origin.domain,
            uri=self.origin.uri,
            chain_id=BASE_CHAIN_ID,
            nonce=challenge.nonce,
            request_id=_request_id(challenge),
            statement=statement_for(challenge.discord_user_id, challenge.discord_user_name),
            max_age=MESSAGE_TTL,
        )

    async def message_for(self, token: str, address: str, *, user_id: int | None = None) -> str:
        """Build (and store) the exact text the wallet at `address` must sign."""
        challenge = await self._open_challenge(token, user_id)
        account = checksum(address)
        now = self.clock()
        expires = min(now + MESSAGE_TTL, parse_time(challenge.expires_at))
        text = build_message(
            domain=self.origin.domain,
            uri=self.origin.uri,
            address=account,
            statement=statement_for(challenge.discord_user_id, challenge.discord_user_name),
            nonce=challenge.nonce,
            issued_at=now,
            expires_at=expires,
            request_id=_request_id(challenge),
        )
        if not await link_challenges.set_message(self.db, token, account, text):
            raise LinkRefused(ALREADY_USED)
        return text

    # --- the proof ----------------------------------------------------------------
    async def complete(
        self, token: str, signature: str | bytes, *, user_id: int | None = None
    ) -> LinkResult:
        challenge = await self._open_challenge(token, user_id)
        if not challenge.message or not challenge.address:
            raise LinkRefused("Ask for the message to sign first (enter your address).")
        text = challenge.message
        parsed = parse_message(text)
        check_fields(parsed, self._expectations(challenge), self.clock())
        if parsed.address != challenge.address:
            raise LinkRefused("The stored message names another address. Run /wallet link again.")
        # Shape and length first: garbage is refused without an attempt or an RPC call.
        raw = normalise_signature(signature)
        attempt = await link_challenges.reserve_attempt(
            self.db, token, now=iso(self.clock()), max_attempts=self.max_attempts
        )
        if attempt is None:
            await self._open_challenge(token, user_id)  # says why: used, expired, …
            raise LinkRefused(TOO_MANY_ATTEMPTS)
        # An attempt stays counted even when the RPC fails: an ERC-6492 "signature" runs
        # the sender's factory code in eth_call, which can be made to time out at will.
        try:
            proof = await self._prove(text, parsed.address, raw)
        except LinkRefused as refused:
            if attempt >= self.max_attempts:
                refused.message = (
                    f"{refused.message} That was the last attempt for this link: "
                    "run /wallet link again for a new one."
                )
            raise
        linked = await link_challenges.consume_and_link(
            self.db,
            token,
            address=parsed.address,
            message=text,
            proof=proof,
            now=iso(self.clock()),
        )
        if linked is None:
            # Used meanwhile, or expired while the signature was checked: say which.
            await self._open_challenge(token, user_id)
            raise LinkRefused(ALREADY_USED)
        log.info(
            "wallet linked",
            extra={"discord_user_id": str(linked), "address": parsed.address, "proof": proof},
        )
        return LinkResult(linked, parsed.address, proof, challenge)

    async def _prove(self, text: str, address: str, signature: bytes) -> str:
        if recover_signer(text, signature) == address:
            return "eoa"
        if self.rpc is None:
            raise LinkRefused(
                f"That signature was not made by {address}. Sign the exact message with "
                "that wallet. (Smart-contract wallets need the operator to set BASE_RPC_URL.)"
            )
        # Not an ordinary key's signature: maybe a smart-contract wallet (ERC-1271/6492).
        # RpcUnavailable propagates: we fail closed with "try again".
        result = await verify_contract_signature(
            self.rpc, address, personal_message_hash(text), signature
        )
        if not result.valid:
            raise LinkRefused(
                f"That signature was not made by {address}. Sign the exact message with "
                "that wallet, then paste the whole signature."
            )
        return result.proof

    async def forget_interaction(self, token: str) -> None:
        await link_challenges.forget_interaction(self.db, token)

    async def purge_expired(self, *, older_than: timedelta) -> int:
        """Forget the Discord interaction of every expired link at once, and delete the
        links expired for longer than `older_than`. Returns how many were deleted."""
        now = self.clock()
        await link_challenges.forget_expired_interactions(self.db, now=iso(now))
        return await link_challenges.purge(self.db, expired_before=iso(now - older_than))


def _request_id(challenge: Challenge) -> str:
    if challenge.request_id is None:  # refused by _open_challenge already
        raise LinkRefused(EXPIRED)
    return challenge.request_id


__all__ = [
    "LinkRefused",
    "LinkResult",
    "SigningOrigin",
    "SiweError",
    "SlowDown",
    "WalletLink",
    "WalletLinker",
]
