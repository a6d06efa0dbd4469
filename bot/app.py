"""The bot: start-up in `setup_hook`, shutdown in `close()` in reverse."""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.clients.arena import ArenaClient
from bot.clients.fal import FalGateway, FalStorage, configure_storage_endpoints
from bot.clients.fal import configure_endpoints as configure_fal
from bot.clients.fal_training import FalTrainer
from bot.clients.media import MediaFetcher
from bot.clients.rpc import JsonRpcClient
from bot.command_sync import sync_if_changed
from bot.errors import NotConfigured
from bot.services.credits import CreditLedger
from bot.services.generation import ImageGenerator
from bot.services.payments.prices import PriceFeed, Quoter
from bot.services.payments.verifier import PaymentVerifier
from bot.services.quota import QuotaLedger
from bot.services.training.desk import TrainingDesk
from bot.services.training.images import arena_image_fetcher
from bot.services.wallet.links import LinkResult, SigningOrigin, WalletLinker
from bot.settings import Settings
from bot.web.health import HealthCheck
from bot.web.link_page import link_routes
from bot.web.pay_page import pay_routes
from bot.web.server import WebServer
from cogs import EXTENSIONS
from cogs.common import errors as error_handler
from storage.db import Database
from storage.migrate import migrate

log = logging.getLogger(__name__)


def configure_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at another REST base / gateway (API proxies, local emulators).

    discord.py keeps both as class attributes; interaction webhooks reuse `Route`.
    """
    if settings.discord_api_base_url is not None:
        discord.http.Route.BASE = str(settings.discord_api_base_url).rstrip("/")
    if settings.discord_gateway_url is not None:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class LoraCommandTree(app_commands.CommandTree["LoraBot"]):
    async def on_error(
        self, interaction: discord.Interaction[LoraBot], error: app_commands.AppCommandError
    ) -> None:
        await error_handler.report(interaction, error)


class LoraBot(commands.AutoShardedBot):
    def __init__(
        self,
        settings: Settings,
        *,
        force_sync: bool = False,
        extensions: Sequence[str] = EXTENSIONS,
        **client_options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=LoraCommandTree,
            shard_count=settings.shard_count,
            # discord.py's stub says list[int], but None (the default) means "all shards".
            shard_ids=list(settings.shard_ids) if settings.shard_ids is not None else None,  # type: ignore[arg-type]
            enable_debug_events=False,
            **client_options,
        )
        self.settings = settings
        self.force_sync = force_sync
        self.extension_names = tuple(extensions)
        self.failed_extensions: dict[str, str] = {}
        self.db = Database(settings.database_config())
        self.http_session: aiohttp.ClientSession | None = None
        self.web = WebServer(
            settings.http_host,
            settings.http_port,
            HealthCheck(database=self.db.ping, gateway=self.gateway_status),
        )
        self.synced_commands = False
        self._gc_frozen = False
        self.quota = QuotaLedger(
            self.db,
            admin_wallets=settings.admin_wallets,
            reservation_timeout=timedelta(seconds=settings.generation_reservation_seconds),
        )
        self.credits = CreditLedger(self.db, admin_wallets=settings.admin_wallets)
        self.generator: ImageGenerator | None = None
        self.trainer: FalTrainer | None = None
        self.training_desk: TrainingDesk | None = None
        self.price_feed: PriceFeed | None = None
        self.wallet_linker: WalletLinker | None = None
        self.wallet_linking_unavailable: NotConfigured | None = None

    # --- start-up -------------------------------------------------------------
    async def setup_hook(self) -> None:
        await self.db.open()
        await migrate(self.db)
        self.http_session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30, connect=10),
            headers={"User-Agent": "lora-trainer-bot"},
        )
        self._build_services(self.http_session)
        self.web.add_routes(link_routes(self.wallet_linker, self._announce_link))
        self.web.add_routes(pay_routes(lambda: self.training_desk))
        await self._check_price_feed()
        # Credits held by a process that died before it recorded its training, and quota
        # slots reserved by one that died mid-generation (they already stopped counting
        # after their timeout; this closes them in the ledger).
        await self.credits.release_stale_reservations()
        await self.quota.release_stale()
        await self.web.start()
        for name in self.extension_names:
            try:
                await self.load_extension(name)
            except Exception as exc:
                # One broken feature must not take the whole bot down.
                self.failed_extensions[name] = f"{type(exc).__name__}: {exc}"
                log.exception("cog failed to load, skipped", extra={"extension": name})
        assert self.application_id is not None
        self.synced_commands = await sync_if_changed(
            self.tree,
            self.db,
            self.application_id,
            guild_id=self.settings.sync_guild_id,
            force=self.force_sync,
        )

    def _build_services(self, session: aiohttp.ClientSession) -> None:
        """Discord-free services the cogs and the web pages share."""
        settings = self.settings
        rpc = (
            JsonRpcClient(settings.base_rpc_url.get_secret_value(), session)
            if settings.base_rpc_url is not None
            else None
        )
        try:
            origin = SigningOrigin.from_settings(
                str(settings.public_base_url) if settings.public_base_url else None,
                settings.siwe_domain,
            )
        except NotConfigured as missing:
            self.wallet_linking_unavailable = missing
        else:
            self.wallet_linker = WalletLinker(self.db, origin, rpc=rpc)
        fal = storage = None
        if settings.fal_key is not None:
            key = settings.fal_key.get_secret_value()
            configure_fal(str(settings.fal_queue_url) if settings.fal_queue_url else None)
            configure_storage_endpoints(
                str(settings.fal_rest_url) if settings.fal_rest_url else None,
                str(settings.fal_cdn_url) if settings.fal_cdn_url else None,
            )
            fal, storage, self.trainer = FalGateway(key), FalStorage(key), FalTrainer(key)
        media = MediaFetcher(session, allowed_hosts=settings.media_hosts)
        self.generator = ImageGenerator(self.db, self.quota, fal, media)
        quoter = verifier = None
        if rpc is not None and settings.treasury_address and settings.chainlink_eth_usd_feed:
            self.price_feed = PriceFeed(rpc, settings.chainlink_eth_usd_feed)
            quoter = Quoter(self.db, self.price_feed, settings.training_price_usd)
            verifier = PaymentVerifier(
                self.db,
                rpc,
                settings.treasury_address,
                min_confirmations=settings.payment_confirmations,
            )
        arena = ArenaClient(
            session,
            base_url=str(settings.arena_api_url).rstrip("/"),
            access_token=(
                settings.arena_access_token.get_secret_value()
                if settings.arena_access_token
                else None
            ),
        )
        self.training_desk = TrainingDesk(
            self.db,
            arena,
            self.credits,
            arena_image_fetcher(session, allowed_hosts=settings.arena_image_hosts),
            trainer=self.trainer,
            storage=storage,
            quoter=quoter,
            verifier=verifier,
            min_images=settings.arena_min_images,
            max_images=settings.arena_max_images,
        )

    async def _check_price_feed(self) -> None:
        """A wrong CHAINLINK_ETH_USD_FEED must not quote nonsense prices: check it once."""
        if self.price_feed is None or self.training_desk is None:
            return
        try:
            await self.price_feed.check()
        except Exception as exc:
            log.error("price feed check failed; paid training is off", extra={"reason": str(exc)})
            self.training_desk.quoter = self.training_desk.verifier = None

    async def _announce_link(self, result: LinkResult) -> None:
        # The wallet cog turns this into an edit of the user's private message.
        self.dispatch("wallet_linked", result)

    async def launch_shards(self) -> None:
        # With a gateway override, discord.py would still connect to the URL that
        # /gateway/bot returns; take only the shard count from it.
        if self.settings.discord_gateway_url is not None and self.shard_count is None:
            self.shard_count, _, _ = await self.http.get_bot_gateway()
        await super().launch_shards()

    async def on_ready(self) -> None:
        if not self._gc_frozen:
            # Everything loaded at start lives as long as the bot: keep it out of the
            # collector's full passes, which otherwise stall the loop for tens of ms.
            gc.freeze()
            self._gc_frozen = True
        log.info(
            "gateway ready",
            extra={"guilds": len(self.guilds), "shards": ",".join(map(str, self.shards))},
        )

    # --- health ---------------------------------------------------------------
    def gateway_status(self) -> dict[str, Any]:
        shards: dict[str, Any] = {}
        for shard_id, info in self.shards.items():
            latency = info.latency
            shards[str(shard_id)] = {
                "connected": not info.is_closed(),
                "latency_ms": round(latency * 1000, 1) if math.isfinite(latency) else None,
            }
        connected = (
            not self.is_closed()
            and self.is_ready()
            and bool(shards)
            and all(s["connected"] for s in shards.values())
        )
        return {"connected": connected, "shards": shards}

    # --- shutdown ---------------------------------------------------------------
    async def close(self) -> None:
        # Cogs are unloaded and the gateway closed first, then what setup_hook opened.
        await super().close()
        await self.web.stop()
        if self.http_session is not None:
            await self.http_session.close()
            self.http_session = None
        await self.db.close()
        log.info("bot closed")
