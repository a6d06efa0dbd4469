"""The bot: start-up in `setup_hook`, shutdown in `close()` in reverse."""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.ack_backlog import AckBacklog
from bot.background import Periodic
from bot.command_sync import sync_if_changed
from bot.discord_http import AckFirstConnector
from bot.services.training.watcher import poll_interval
from bot.services.wallet.links import LinkResult
from bot.settings import Settings
from bot.web.fal_webhook import fal_webhook_routes
from bot.web.health import HealthCheck
from bot.web.link_page import link_routes
from bot.web.pay_page import pay_routes
from bot.web.server import WebServer
from bot.wiring import Services, build_services, recovery_interval
from cogs import EXTENSIONS
from cogs.common.errors import report
from storage.db import Database
from storage.migrate import migrate

log = logging.getLogger(__name__)
# Connections to Discord's REST API at once, and how long an idle one is kept (seconds).
DISCORD_CONNECTIONS = 64
DISCORD_KEEPALIVE_SECONDS = 60.0
DISCORD_RESERVED_FOR_ACKS = 16  # of those, kept for acknowledgements (`discord_http`)
FULL_COLLECTION_EVERY = 100  # middle-generation collections per full one (CPython: 10)


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
        await report(interaction, error)


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
        self.acks = AckBacklog()
        # Built in setup_hook by the composition root (bot/wiring.py).
        self.services: Services
        self.jobs: list[Periodic] = []

    # --- start-up -------------------------------------------------------------
    async def login(self, token: str) -> None:
        # discord.py's own connector has no limit (`TCPConnector(limit=0)`): the first
        # burst of 500 interactions opened about 500 connections to Discord, one per
        # callback (bench/load.py). A bounded pool whose connections are kept alive
        # serves a burst with a fixed number of TLS handshakes instead.
        if self.http.connector is discord.utils.MISSING:
            self.http.connector = AckFirstConnector(
                limit=DISCORD_CONNECTIONS,
                reserved=DISCORD_RESERVED_FOR_ACKS,
                keepalive_timeout=DISCORD_KEEPALIVE_SECONDS,
            )
        await super().login(token)

    async def setup_hook(self) -> None:
        await self.db.open()
        await migrate(self.db)
        self.http_session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30, connect=10),
            headers={"User-Agent": "lora-trainer-bot"},
        )
        self.services = services = await build_services(self.settings, self.db, self.http_session)
        base = str(self.settings.public_base_url) if self.settings.public_base_url else None
        self.web.add_routes(
            link_routes(services.wallet_links, self._announce_link, public_base_url=base)
        )
        self.web.add_routes(pay_routes(services.training, services.checkout, public_base_url=base))
        if services.webhooks is not None:
            self.web.add_routes(fal_webhook_routes(services.webhooks))
        await services.release_stale()
        services.gallery.warm()
        await self.web.start()
        for name in self.extension_names:
            try:
                await self.load_extension(name)
            except Exception as exc:
                # One broken feature must not take the whole bot down.
                self.failed_extensions[name] = f"{type(exc).__name__}: {exc}"
                log.exception("cog failed to load, skipped", extra={"extension": name})
        self._start_jobs(services)
        assert self.application_id is not None
        self.synced_commands = await sync_if_changed(
            self.tree,
            self.db,
            self.application_id,
            guild_id=self.settings.sync_guild_id,
            force=self.force_sync,
        )

    def _start_jobs(self, services: Services) -> None:
        """The bot, not a cog, runs the work that must go on whatever cogs loaded."""
        if services.watcher is not None:
            watcher = services.watcher
            # With webhooks, polling is the fallback and runs less often (watcher.py).
            every = poll_interval(
                self.settings.training_poll_seconds,
                webhooks=services.webhooks is not None,
                lease_seconds=self.settings.training_lease_seconds,
            )
            self.jobs.append(
                Periodic(
                    "training watcher",
                    every,
                    watcher.poll_once,
                    wait_first=self.wait_until_ready,
                )
            )
        if services.recovery is not None:
            # Every process, not only at start: a submission whose process died goes
            # back to a usable credit within a lease or two, whatever its age.
            self.jobs.append(
                Periodic(
                    "submission recovery",
                    recovery_interval(self.settings).total_seconds(),
                    services.recovery.run_once,
                )
            )
        if services.scanner is not None:
            # About one Base block: a payment is seen soon after its confirmations. A
            # turn without an open quote asks Base nothing.
            self.jobs.append(
                Periodic(
                    "payment scanner",
                    self.settings.payment_scan_seconds,
                    services.scanner.scan_once,
                    wait_first=self.wait_until_ready,
                )
            )
        self.jobs.append(Periodic("link request purge", 3600, services.purge_link_requests))
        for job in self.jobs:
            job.start()

    async def _stop_jobs(self) -> None:
        for job in self.jobs:
            await job.stop()
        self.jobs.clear()
        services = getattr(self, "services", None)
        if services is not None and services.watcher is not None:
            await services.watcher.stop()  # hand its trainings to the next process

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
            # Frozen objects no longer count as long-lived, so CPython's own brake on
            # full collections (pending > 25% of the long-lived) no longer holds: the
            # objects of interactions in flight, promoted during a burst, made a 40-50 ms
            # full pass every few seconds under load (bench/load.py). One full pass per
            # 100 middle ones instead of 10; the young generations are unchanged.
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
            self._gc_frozen = True
        log.info(
            "gateway ready",
            extra={"guilds": len(self.guilds), "shards": ",".join(map(str, self.shards))},
        )

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        # Synchronous, while the gateway message is parsed: every interaction of a
        # burst is counted before any handler runs (`bot.ack_backlog`).
        if event_name == "interaction":
            self.acks.received(args[0].response)
        super().dispatch(event_name, *args, **kwargs)

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
        # A graceful stop: take no new work, let paid submissions and generations reach a
        # recorded step (bounded by STOP_GRACE_SECONDS; what is left is cancelled and
        # rolls itself back), then stop the background jobs, close the gateway, the web
        # server, the HTTP session, and the database last.
        services = getattr(self, "services", None)
        if services is not None and not services.inflight.stopping:
            services.inflight.stop_taking()
            stopped = await services.inflight.drain(self.settings.stop_grace_seconds)
            if stopped:
                log.warning("stopped work in progress", extra={"count": stopped})
        await self._stop_jobs()
        await super().close()
        await self.web.stop()
        if services is not None:
            await services.gallery.aclose()  # its background refresh uses the database
        if self.http_session is not None:
            await self.http_session.close()
            self.http_session = None
        await self.db.close()
        log.info("bot closed")
