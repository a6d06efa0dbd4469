"""WalletLinker against the real database: every way a link must be refused."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from bot.clients.rpc import JsonRpcClient
from bot.errors import ServiceUnavailable, UserFacingError
from bot.services.wallet.links import SigningOrigin, SlowDown, WalletLinker
from storage import wallets
from storage.db import Database

ALICE, BOB = 42, 43
ORIGIN = SigningOrigin(domain="bot.example", uri="https://bot.example")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def linker(db: Database, clock: Clock) -> WalletLinker:
    return WalletLinker(db, ORIGIN, clock=clock)


@pytest.fixture
def key() -> LocalAccount:
    return Account.create()


def sign(account: LocalAccount, text: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


async def prepared(linker: WalletLinker, key: LocalAccount, user: int = ALICE) -> tuple[str, str]:
    challenge = await linker.start(user, "alice")
    text = await linker.message_for(challenge.token, key.address, user_id=user)
    return challenge.token, text


async def tamper(db: Database, token: str, old: str, new: str) -> str:
    row = await db.fetchone("SELECT message FROM siwe_challenges WHERE token = ?", (token,))
    assert row is not None and old in row["message"]
    text = str(row["message"]).replace(old, new)
    await db.execute("UPDATE siwe_challenges SET message = ? WHERE token = ?", (text, token))
    return text


async def test_a_signed_message_links_the_wallet(
    linker: WalletLinker, key: LocalAccount, db: Database
) -> None:
    token, text = await prepared(linker, key)
    assert text.startswith("bot.example wants you to sign in with your Ethereum account:\n")
    assert f"\n{key.address}\n" in text
    assert "Chain ID: 8453" in text
    # The Request ID is the challenge's own random id, never the token (a credential).
    row = await db.fetchone("SELECT request_id FROM siwe_challenges WHERE token = ?", (token,))
    assert row is not None and re.fullmatch(r"[0-9a-f]{16}", row["request_id"])
    assert f"Request ID: {row['request_id']}" in text
    assert token not in text
    assert "Discord user @alice (id 42)" in text
    result = await linker.complete(token, sign(key, text), user_id=ALICE)
    assert (result.address, result.proof, result.discord_user_id) == (key.address, "eoa", ALICE)
    link = await wallets.get_link(db, ALICE)
    assert link is not None and link.wallet_address == key.address


async def test_linking_again_replaces_and_users_may_share_a_wallet(
    linker: WalletLinker, db: Database
) -> None:
    first, second = Account.create(), Account.create()
    for account, user in ((first, ALICE), (second, ALICE), (second, BOB)):
        token, text = await prepared(linker, account, user)
        await linker.complete(token, sign(account, text), user_id=user)
    alice, bob = await wallets.get_link(db, ALICE), await wallets.get_link(db, BOB)
    assert alice is not None and bob is not None
    assert alice.wallet_address == bob.wallet_address == second.address


async def test_replayed_signature_is_refused(linker: WalletLinker, key: LocalAccount) -> None:
    token, text = await prepared(linker, key)
    signature = sign(key, text)
    await linker.complete(token, signature)
    with pytest.raises(UserFacingError, match="already used"):
        await linker.complete(token, signature)


async def test_token_used_twice_at_once_links_exactly_once(
    linker: WalletLinker, key: LocalAccount
) -> None:
    token, text = await prepared(linker, key)
    signature = sign(key, text)
    outcomes = await asyncio.gather(
        *(linker.complete(token, signature) for _ in range(8)), return_exceptions=True
    )
    successes = [o for o in outcomes if not isinstance(o, BaseException)]
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(successes) == 1
    # The others find the token used, or its few signature attempts all taken at once.
    assert all(
        isinstance(f, UserFacingError) and re.search("already used|too many attempts", f.message)
        for f in failures
    ), failures


async def test_another_user_cannot_redeem_the_token(
    linker: WalletLinker, key: LocalAccount
) -> None:
    token, text = await prepared(linker, key)
    with pytest.raises(UserFacingError, match="belongs to someone else"):
        await linker.complete(token, sign(key, text), user_id=BOB)
    with pytest.raises(UserFacingError, match="belongs to someone else"):
        await linker.message_for(token, key.address, user_id=BOB)


async def test_expired_token(linker: WalletLinker, key: LocalAccount, clock: Clock) -> None:
    token, text = await prepared(linker, key)
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(UserFacingError, match="expired"):
        await linker.complete(token, sign(key, text))


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("Chain ID: 8453", "Chain ID: 1", "for chain 1"),
        ("for the LoRA trainer bot.", "for another bot.", "statement was changed"),
        ("Issued At: 2026-11-22T12:00:00.000Z", "Issued At: 2026-11-22T11:00:00.000Z", "too old"),
        ("Issued At: 2026-11-22T12:00:00.000Z", "Issued At: 2026-11-22T12:30:00.000Z", "future"),
        (
            "Request ID:",
            "Not Before: 2026-11-22T12:05:00.000Z\nRequest ID:",
            "not valid yet",
        ),
        (
            "Expiration Time: 2026-11-22T12:10:00.000Z",
            "Expiration Time: 2026-11-22T11:59:00.000Z",
            "expired",
        ),
        ("bot.example wants", "evil.example wants", "is for evil.example"),
        ("URI: https://bot.example", "URI: https://evil.example", "another web address"),
    ],
)
async def test_stored_message_fields_are_checked(
    linker: WalletLinker, key: LocalAccount, db: Database, old: str, new: str, reason: str
) -> None:
    token, _ = await prepared(linker, key)
    # Even a correctly signed message is refused when its fields are not ours.
    text = await tamper(db, token, old, new)
    with pytest.raises(UserFacingError, match=reason):
        await linker.complete(token, sign(key, text))


async def test_settings_changed_between_build_and_check(
    db: Database, clock: Clock, key: LocalAccount
) -> None:
    before = WalletLinker(db, ORIGIN, clock=clock)
    token, text = await prepared(before, key)
    moved = WalletLinker(db, SigningOrigin("bot.example", "http://bot.example"), clock=clock)
    with pytest.raises(UserFacingError, match="another web address"):
        await moved.complete(token, sign(key, text))
    renamed = WalletLinker(db, SigningOrigin("new.example", "https://new.example"), clock=clock)
    with pytest.raises(UserFacingError, match=r"is for bot\.example, not new\.example"):
        await renamed.complete(token, sign(key, text))


async def test_signature_from_another_key(linker: WalletLinker, key: LocalAccount) -> None:
    token, text = await prepared(linker, key)
    with pytest.raises(UserFacingError, match=re.escape(f"not made by {key.address}")):
        await linker.complete(token, sign(Account.create(), text))


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("hello", "not hex"),
        ("", "not hex"),
        ("   ", "not hex"),
        ("0x" + "ab" * 64, "64 bytes long"),
        ("0x" + "ab" * 64 + "a", "odd number"),
        ("0x" + "00" * 65, "not made by"),
        ("0x" + "ff" * 65, "not made by"),
        ("<script>alert(1)</script>", "not hex"),
    ],
)
async def test_malformed_signatures(
    linker: WalletLinker, key: LocalAccount, signature: str, reason: str
) -> None:
    token, _ = await prepared(linker, key)
    with pytest.raises(UserFacingError, match=reason):
        await linker.complete(token, signature)


async def test_signature_forms_that_are_accepted(linker: WalletLinker) -> None:
    forms = [
        lambda s: s,  # 0x-prefixed
        lambda s: s[2:],  # no prefix
        lambda s: "0x" + s[2:].upper(),  # upper-case hex
        lambda s: f"  {s[:70]}\n{s[70:]}  ",  # wrapped and padded when pasted
        lambda s: bytes.fromhex(s[2:]),  # raw bytes
    ]
    for form in forms:
        key = Account.create()
        token, text = await prepared(linker, key)
        result = await linker.complete(token, form(sign(key, text)))
        assert result.address == key.address


async def test_address_case_handling(linker: WalletLinker, key: LocalAccount) -> None:
    challenge = await linker.start(ALICE, "alice")
    text = await linker.message_for(challenge.token, key.address.lower())
    assert f"\n{key.address}\n" in text  # stored checksummed
    text = await linker.message_for(challenge.token, "  " + key.address.upper().replace("0X", "0x"))
    assert f"\n{key.address}\n" in text
    broken = key.address[:-1] + (key.address[-1].swapcase() if key.address[-1].isalpha() else "g")
    with pytest.raises(UserFacingError):
        await linker.message_for(challenge.token, broken)
    with pytest.raises(UserFacingError, match="not an Ethereum address"):
        await linker.message_for(challenge.token, "vitalik.eth")


async def test_unknown_and_forged_tokens(linker: WalletLinker, key: LocalAccount) -> None:
    for token in ("", "x" * 30, "../../etc/passwd", "a" * 500, "' OR 1=1 --"):
        with pytest.raises(UserFacingError, match="not valid"):
            await linker.message_for(token, key.address)


async def test_message_must_be_requested_before_signing(linker: WalletLinker) -> None:
    challenge = await linker.start(ALICE, "alice")
    with pytest.raises(UserFacingError, match="Ask for the message"):
        await linker.complete(challenge.token, "0x" + "ab" * 65)


async def test_slow_down_beyond_open_tokens_and_per_minute(
    linker: WalletLinker, clock: Clock
) -> None:
    for _ in range(3):
        await linker.start(ALICE, "alice")
    with pytest.raises(SlowDown, match=r"3 link requests open.*\d{4}-\d\d-\d\d \d\d:\d\d UTC"):
        await linker.start(ALICE, "alice")
    await linker.start(BOB, "bob")  # other users are not affected
    clock.advance(minutes=11)  # the three expired
    for _ in range(3):
        await linker.start(ALICE, "alice")
    clock.advance(seconds=1)


async def test_per_minute_limit_counts_used_tokens_too(db: Database, clock: Clock) -> None:
    linker = WalletLinker(db, ORIGIN, clock=clock, max_open=10, max_per_minute=5)
    for _ in range(5):
        await linker.start(ALICE, "alice")
    with pytest.raises(SlowDown, match="too many link requests in a minute"):
        await linker.start(ALICE, "alice")
    clock.advance(seconds=61)
    await linker.start(ALICE, "alice")


async def test_statement_keeps_only_safe_name_characters() -> None:
    from bot.services.wallet.links import statement_for

    assert statement_for(7, "Ærø ✨ @everyone\n") == (
        "Link this wallet to Discord user @reveryone (id 7) for the LoRA trainer bot."
    )
    assert re.fullmatch(r"[A-Za-z0-9 @()._-]+\.", statement_for(7, "😀"))


async def test_rpc_down_during_a_contract_wallet_check_fails_closed(
    db: Database, clock: Clock, key: LocalAccount
) -> None:
    async with aiohttp.ClientSession() as session:
        # Nothing listens on port 9 of loopback: the RPC is down.
        rpc = JsonRpcClient("http://127.0.0.1:9", session, timeout=2)
        linker = WalletLinker(db, ORIGIN, rpc=rpc, clock=clock)
        token, text = await prepared(linker, key)
        # Not the EOA's signature: the linker must ask the chain, which is down.
        with pytest.raises(ServiceUnavailable, match=r"(?i)try again"):
            await linker.complete(token, sign(Account.create(), text))
        # Nothing was consumed: the user can retry with the same link.
        result = await linker.complete(token, sign(key, text))
        assert result.proof == "eoa"


async def test_expired_requests_are_purged_after_a_day(
    linker: WalletLinker, db: Database, clock: Clock
) -> None:
    await linker.start(ALICE, "alice")
    clock.advance(hours=2)
    assert await linker.purge_expired(older_than=timedelta(days=1)) == 0
    clock.advance(days=1)
    fresh = await linker.start(ALICE, "alice")
    assert await linker.purge_expired(older_than=timedelta(days=1)) == 1
    rows = await db.fetchall("SELECT token FROM siwe_challenges")
    assert [r["token"] for r in rows] == [fresh.token]


async def test_link_of_and_unlink(linker: WalletLinker, key: LocalAccount) -> None:
    assert await linker.link_of(ALICE) is None
    assert not await linker.unlink(ALICE)
    token, text = await prepared(linker, key)
    await linker.complete(token, sign(key, text), user_id=ALICE)
    link = await linker.link_of(ALICE)
    assert link is not None and (link.wallet_address, link.proof) == (key.address, "eoa")
    assert await linker.unlink(ALICE)
    assert await linker.link_of(ALICE) is None


async def test_a_request_id_from_another_challenge_is_refused(
    linker: WalletLinker, key: LocalAccount, db: Database
) -> None:
    token, text = await prepared(linker, key)
    other = await linker.start(ALICE, "alice")
    assert other.request_id and other.request_id not in text
    row = await db.fetchone("SELECT request_id FROM siwe_challenges WHERE token = ?", (token,))
    assert row is not None
    forged = await tamper(
        db, token, f"Request ID: {row['request_id']}", f"Request ID: {other.request_id}"
    )
    with pytest.raises(UserFacingError, match="another link request"):
        await linker.complete(token, sign(key, forged))
    # Nor does the token itself pass as the Request ID any more.
    forged = await tamper(db, token, f"Request ID: {other.request_id}", f"Request ID: {token}")
    with pytest.raises(UserFacingError, match="another link request"):
        await linker.complete(token, sign(key, forged))


async def test_a_challenge_from_before_request_ids_counts_as_expired(
    linker: WalletLinker, key: LocalAccount, db: Database
) -> None:
    token, text = await prepared(linker, key)
    await db.execute("UPDATE siwe_challenges SET request_id = NULL WHERE token = ?", (token,))
    with pytest.raises(UserFacingError, match=r"expired.*Run /wallet link again"):
        await linker.complete(token, sign(key, text))
    with pytest.raises(UserFacingError, match="expired"):
        await linker.check_open(token)


async def test_wrong_signatures_use_up_the_token(linker: WalletLinker, key: LocalAccount) -> None:
    token, text = await prepared(linker, key)
    stranger = Account.create()
    for attempt in range(1, 6):
        with pytest.raises(UserFacingError, match="not made by") as refused:
            await linker.complete(token, sign(stranger, text))
        assert ("last attempt" in refused.value.message) == (attempt == 5)
    # Dead now, even for the right signature, and everywhere the token is used.
    with pytest.raises(UserFacingError, match=r"too many attempts.*Run /wallet link again"):
        await linker.complete(token, sign(key, text))
    with pytest.raises(UserFacingError, match="too many attempts"):
        await linker.message_for(token, key.address)
    with pytest.raises(UserFacingError, match="too many attempts"):
        await linker.challenge_for(token, ALICE)
    with pytest.raises(UserFacingError, match="too many attempts"):
        await linker.check_open(token)


async def test_garbage_is_refused_without_using_an_attempt(
    linker: WalletLinker, key: LocalAccount, db: Database
) -> None:
    token, text = await prepared(linker, key)
    for _ in range(10):
        with pytest.raises(UserFacingError, match=r"not hex|bytes long"):
            await linker.complete(token, "0xnope")
        with pytest.raises(UserFacingError, match="bytes long"):
            await linker.complete(token, "0x" + "ab" * 20)
    row = await db.fetchone(
        "SELECT signature_attempts FROM siwe_challenges WHERE token = ?", (token,)
    )
    assert row is not None and row["signature_attempts"] == 0
    assert (await linker.complete(token, sign(key, text))).proof == "eoa"


async def test_attempts_are_counted_atomically_under_concurrency(
    linker: WalletLinker, key: LocalAccount, db: Database
) -> None:
    token, text = await prepared(linker, key)
    stranger = Account.create()
    outcomes = await asyncio.gather(
        *(linker.complete(token, sign(stranger, text)) for _ in range(12)),
        return_exceptions=True,
    )
    messages = [o.message for o in outcomes if isinstance(o, UserFacingError)]
    assert len(messages) == 12
    assert sum("not made by" in m for m in messages) == 5
    assert sum(m.startswith("This link has had too many attempts") for m in messages) == 7
    row = await db.fetchone(
        "SELECT signature_attempts FROM siwe_challenges WHERE token = ?", (token,)
    )
    assert row is not None and row["signature_attempts"] == 5


async def test_check_open_says_why_a_link_is_dead(
    linker: WalletLinker, key: LocalAccount, clock: Clock
) -> None:
    challenge = await linker.start(ALICE, "alice")
    assert await linker.check_open(challenge.token) == datetime(2026, 11, 22, 12, 10, tzinfo=UTC)
    with pytest.raises(UserFacingError, match="not valid"):
        await linker.check_open("x" * 30)
    token, text = await prepared(linker, key)
    await linker.complete(token, sign(key, text))
    with pytest.raises(UserFacingError, match="already used"):
        await linker.check_open(token)
    clock.advance(minutes=10)
    with pytest.raises(UserFacingError, match="expired"):
        await linker.check_open(challenge.token)


async def test_expired_links_lose_their_interaction_at_the_hourly_purge(
    linker: WalletLinker, db: Database, clock: Clock
) -> None:
    old = await linker.start(ALICE, "alice")
    await linker.attach_interaction(old.token, 1, "interaction-secret-old", 11)
    clock.advance(minutes=9)
    fresh = await linker.start(ALICE, "alice")
    await linker.attach_interaction(fresh.token, 1, "interaction-secret-fresh", 12)
    clock.advance(minutes=1, seconds=1)  # the first expired, the second has 9 minutes left
    assert await linker.purge_expired(older_than=timedelta(days=1)) == 0  # none deleted yet
    rows = await db.fetchall(
        "SELECT token, application_id, interaction_token, message_id FROM siwe_challenges"
    )
    by_token = {r["token"]: r for r in rows}
    assert by_token[old.token]["interaction_token"] is None
    assert by_token[old.token]["application_id"] is None
    assert by_token[old.token]["message_id"] is None
    assert by_token[fresh.token]["interaction_token"] == "interaction-secret-fresh"


async def test_a_link_that_expires_while_its_signature_is_checked_is_refused(
    db: Database, clock: Clock, key: LocalAccount
) -> None:
    """A smart wallet's check is a network round trip: the clock passes the link's expiry
    between the token's checks and its consumption. The consuming UPDATE sees it."""
    calls: list[str] = []

    async def node(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(body["method"])
        if body["method"] == "eth_getCode":
            result = "0x6080"  # a deployed contract wallet
        else:  # isValidSignature, answered slowly: the link expires meanwhile
            clock.advance(minutes=10)
            result = "0x1626ba7e" + "00" * 28
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": result})

    app = web.Application()
    app.router.add_post("/", node)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            rpc = JsonRpcClient(f"http://127.0.0.1:{port}/", session, timeout=5)
            linker = WalletLinker(db, ORIGIN, rpc=rpc, clock=clock)
            token, text = await prepared(linker, key)
            # Not the key's own signature: the linker asks the wallet contract.
            with pytest.raises(UserFacingError, match="expired"):
                await linker.complete(token, sign(Account.create(), text))
    finally:
        await runner.cleanup()
    assert calls == ["eth_getCode", "eth_call"]
    assert await wallets.get_link(db, ALICE) is None
