"""The composition root: every service and client is built here, once, in `setup_hook`.

Which features are on is decided here too, from the settings: no `FAL_KEY`, no
training and no generation; no `BASE_RPC_URL` / treasury / feed (or a feed that fails
its check), no paid training; no `PUBLIC_BASE_URL` nor `SIWE_DOMAIN`, no wallet
linking. A feature that is off still has its service: it answers every call with the
`NotConfigured` error that names the missing settings, so cogs and web pages need no
special cases.

Cogs, views and web routes receive `Services`; none of them builds a service.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.clients.arena import ArenaClient
from bot.clients.fal import FalGateway, FalStorage, configure_storage_endpoints
from bot.clients.fal import configure_endpoints as configure_fal
from bot.clients.fal_jwks import FalJwksClient
from bot.clients.fal_training import FalTrainer
from bot.clients.media import MediaFetcher
from bot.clients.rpc import JsonRpcClient
from bot.errors import NotConfigured
from bot.services.admin import AdminWallets
from bot.services.admin_audit import Auditor
from bot.services.credits import CreditLedger
from bot.services.gallery import Gallery
from bot.services.generation import ImageGenerator
from bot.services.inflight import InFlight
from bot.services.lora_index import LoraIndex
from bot.services.operator import Operator
from bot.services.payments.prices import PriceFeed, Quoter
from bot.services.payments.scanner import PaymentScanner
from bot.services.payments.verifier import PaymentVerifier
from bot.services.quota import QuotaLedger
from bot.services.standing import StandingDesk
from bot.services.training.checkout import Checkout
from bot.services.training.desk import TrainingDesk
from bot.services.training.fal_signature import FalKeys, WebhookSignatures
from bot.services.training.images import arena_image_fetcher
from bot.services.training.submission import SubmissionRecovery, Submitter
from bot.services.training.watcher import TrainingWatcher
from bot.services.training.webhooks import TrainingWebhooks, webhook_path
from bot.services.wallet.links import SigningOrigin, WalletLinker
from bot.settings import Settings
from storage.db import Database
from storage.migrate import migrate

log = logging.getLogger(__name__)

LINK_PURGE_AFTER = timedelta(days=1)  # expired link requests kept for support questions


@dataclass(slots=True)
class Services:
    db: Database
    quota: QuotaLedger
    credits: CreditLedger
    gallery: Gallery
    generator: ImageGenerator
    wallet_links: WalletLinker
    training: TrainingDesk
    # Verifies a payment for an order and starts its training (every road: Discord,
    # the payment page, a scanner).
    checkout: Checkout
    # Finds payments on Base by itself and settles them through `checkout`. None: paid
    # training is off, or PAYMENT_SCAN_SECONDS=0.
    scanner: PaymentScanner | None
    # None: training is off (no FAL_KEY), so there is nothing to watch or recover.
    watcher: TrainingWatcher | None
    recovery: SubmissionRecovery | None
    # None: no fal webhooks (no training, or no PUBLIC_BASE_URL for fal to call).
    webhooks: TrainingWebhooks | None
    # The work a stopping bot lets reach a recorded step (submissions, generations).
    inflight: InFlight
    standing: StandingDesk

    async def release_stale(self) -> None:
        """Credits held by a process that died before it recorded its training, and
        quota slots reserved by one that died mid-generation (they already stopped
        counting after their timeout; this closes them in the ledger)."""
        await self.credits.release_stale_reservations()
        await self.quota.release_stale()

    async def purge_link_requests(self) -> None:
        await self.wallet_links.purge_expired(older_than=LINK_PURGE_AFTER)


def _rpc(settings: Settings, http: aiohttp.ClientSession) -> JsonRpcClient | None:
    if settings.base_rpc_url is None:
        return None
    return JsonRpcClient(settings.base_rpc_url.get_secret_value(), http)


def _webhook_url(settings: Settings) -> Callable[[str], str | None] | None:
    """Where fal calls when an order's training ends: the bot's own web server."""
    if settings.public_base_url is None:
        return None
    base = str(settings.public_base_url).rstrip("/")
    return lambda order_id: base + webhook_path(order_id)


def _signing_origin(settings: Settings) -> SigningOrigin | NotConfigured:
    try:
        return SigningOrigin.from_settings(
            str(settings.public_base_url) if settings.public_base_url else None,
            settings.siwe_domain,
        )
    except NotConfigured as missing:
        return missing


async def _payments(
    settings: Settings, db: Database, rpc: JsonRpcClient | None
) -> tuple[Quoter, PaymentVerifier] | None:
    """Paid training needs the RPC, a treasury and a feed that passes its check: a
    wrong CHAINLINK_ETH_USD_FEED must not quote nonsense prices."""
    if rpc is None or not settings.treasury_address or not settings.chainlink_eth_usd_feed:
        return None
    feed = PriceFeed(rpc, settings.chainlink_eth_usd_feed)
    try:
        await feed.check()
    except Exception as exc:
        log.error("price feed check failed; paid training is off", extra={"reason": str(exc)})
        return None
    quoter = Quoter(db, feed, settings.training_price_usd)
    verifier = PaymentVerifier(
        db, rpc, settings.treasury_address, min_confirmations=settings.payment_confirmations
    )
    return quoter, verifier


async def build_services(settings: Settings, db: Database, http: aiohttp.ClientSession) -> Services:
    rpc = _rpc(settings, http)
    # One name per process in every lease it takes (trainings watched, submissions).
    owner = secrets.token_hex(8)
    inflight = InFlight()
    admins = AdminWallets.of(settings.admin_wallets)
    quota = QuotaLedger(
        db,
        admins=admins,
        reservation_timeout=timedelta(seconds=settings.generation_reservation_seconds),
    )
    credits = CreditLedger(db, admins=admins)

    fal = storage = trainer = None
    if settings.fal_key is not None:
        key = settings.fal_key.get_secret_value()
        configure_fal(str(settings.fal_queue_url) if settings.fal_queue_url else None)
        configure_storage_endpoints(
            str(settings.fal_rest_url) if settings.fal_rest_url else None,
            str(settings.fal_cdn_url) if settings.fal_cdn_url else None,
        )
        fal, storage, trainer = FalGateway(key), FalStorage(key), FalTrainer(key)
    else:
        log.info("training and generation off: FAL_KEY is not set")

    media = MediaFetcher(http, allowed_hosts=settings.media_hosts)
    arena = ArenaClient(
        http,
        base_url=str(settings.arena_api_url).rstrip("/"),
        access_token=(
            settings.arena_access_token.get_secret_value() if settings.arena_access_token else None
        ),
    )
    paid = await _payments(settings, db, rpc)
    training = TrainingDesk(
        db,
        arena,
        credits,
        arena_image_fetcher(http, allowed_hosts=settings.arena_image_hosts),
        trainer=trainer,
        storage=storage,
        quoter=paid[0] if paid else None,
        verifier=paid[1] if paid else None,
        min_images=settings.arena_min_images,
        max_images=settings.arena_max_images,
    )
    lease = timedelta(seconds=settings.training_lease_seconds)
    watcher = recovery = webhooks = None
    webhook_url = _webhook_url(settings)
    if trainer is not None and storage is not None:
        training.submitter = Submitter(
            db,
            arena,
            credits,
            training.images,
            trainer,
            storage,
            inflight=inflight,
            owner=owner,
            lease=lease,
            webhook_url=webhook_url or (lambda order_id: None),
            min_images=settings.arena_min_images,
            max_images=settings.arena_max_images,
        )
        watcher = TrainingWatcher(
            db,
            trainer,
            owner=owner,
            lease=lease,
            progress_interval=settings.training_progress_edit_seconds,
        )
        recovery = SubmissionRecovery(db, owner=owner, lease=lease)
        if webhook_url is not None:
            jwks = FalJwksClient(http, str(settings.fal_webhook_jwks_url))
            webhooks = TrainingWebhooks(
                db, WebhookSignatures(FalKeys(jwks.fetch)), watcher, inflight=inflight
            )
    checkout = Checkout(training)
    scanner = None
    if paid is not None and rpc is not None and settings.payment_scan_seconds > 0:
        scanner = PaymentScanner(
            db,
            rpc,
            checkout,
            paid[1].treasury,
            confirmations=settings.payment_confirmations,
        )
    return Services(
        db=db,
        quota=quota,
        credits=credits,
        gallery=Gallery(db, index=LoraIndex(db)),
        generator=ImageGenerator(db, quota, fal, media, inflight=inflight),
        wallet_links=WalletLinker(db, _signing_origin(settings), rpc=rpc),
        training=training,
        checkout=checkout,
        scanner=scanner,
        watcher=watcher,
        recovery=recovery,
        webhooks=webhooks,
        inflight=inflight,
        standing=StandingDesk(db, quota),
    )


def recovery_interval(settings: Settings) -> timedelta:
    """How often each bot's SubmissionRecovery runs (`LoraBot._start_jobs`)."""
    return timedelta(seconds=max(1.0, settings.training_lease_seconds / 3))


def build_operator(settings: Settings, db: Database) -> Operator:
    """The operator tools (`lora-bot admin`): the bot's own ledger, watcher and fal
    client over `db`, with no Discord, no web server and no background job."""
    lease = timedelta(seconds=settings.training_lease_seconds)
    credits = CreditLedger(db, admins=AdminWallets.of(settings.admin_wallets))
    trainer = watcher = None
    if settings.fal_key is not None:
        configure_fal(str(settings.fal_queue_url) if settings.fal_queue_url else None)
        trainer = FalTrainer(settings.fal_key.get_secret_value())
        # No notifier: the running bot's watcher tells the user at its next poll.
        watcher = TrainingWatcher(db, trainer, owner=f"admin-{secrets.token_hex(6)}", lease=lease)
    auditor = Auditor(db, lease=lease, recovery_interval=recovery_interval(settings))
    return Operator(db, credits, auditor, trainer=trainer, watcher=watcher)


@asynccontextmanager
async def operator_tools(settings: Settings) -> AsyncIterator[Operator]:
    """Open the bot's database (migrated, as every bot start does), hand out the operator
    tools, close it."""
    db = Database(settings.database_config())
    await db.open()
    try:
        await migrate(db)
        yield build_operator(settings, db)
    finally:
        await db.close()
