"""Entry point: `lora-bot` or `python -m bot`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import discord

from bot.settings import Settings, SettingsError, load_settings
from storage.db import DatabaseError

log = logging.getLogger("bot")

EXIT_CONFIG = 2

SETUP_STEPS = """\
DISCORD_TOKEN: not set. The bot needs a Discord bot token to connect.
  1. Open https://discord.com/developers/applications and create an application.
  2. Under "Bot", press "Reset Token" and copy the token.
  3. Put DISCORD_TOKEN=<the token> in a .env file here (see .env.example) or the environment.
  4. Invite the bot: OAuth2 > URL Generator, scopes "bot" and "applications.commands",
     permissions Send Messages, Embed Links, Attach Files, Create Public Threads,
     Send Messages in Threads.
Then run the bot again."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lora-bot",
        description="Run the LoRA trainer bot.",
        epilog="Operator tools (listings, grant-credit, retry, audit): lora-bot admin --help",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="sync the slash commands with Discord even if they look unchanged",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration, print the problems (if any) and exit",
    )
    return parser.parse_args(argv)


async def run(settings: Settings, *, force_sync: bool) -> int:
    from bot.app import LoraBot, configure_discord_endpoints

    configure_discord_endpoints(settings)
    bot = LoraBot(settings, force_sync=force_sync)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def request_stop(signame: str) -> None:
        log.info("shutting down", extra={"signal": signame})
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)

    assert settings.discord_token is not None
    async with bot:
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if runner in done:
            exc = runner.exception()
            if isinstance(exc, discord.LoginFailure):
                print(
                    "DISCORD_TOKEN: Discord refused this token. Copy it again from the "
                    "Developer Portal (Bot > Reset Token).",
                    file=sys.stderr,
                )
                return EXIT_CONFIG
            if isinstance(exc, DatabaseError):
                print(f"DATABASE_URL: the database could not be opened: {exc}", file=sys.stderr)
                return EXIT_CONFIG
            if isinstance(exc, OSError) and not isinstance(exc, discord.DiscordException):
                print(
                    f"HTTP_HOST/HTTP_PORT: the web server could not listen on "
                    f"{settings.http_host}:{settings.http_port} ({exc.strerror or exc}).",
                    file=sys.stderr,
                )
                return EXIT_CONFIG
            if exc is not None:
                log.error("bot stopped", exc_info=exc)
                return 1
            return 0
        await bot.close()
        runner.cancel()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["admin"]:
        from bot.admin import main as admin_main

        return admin_main(arguments[1:])
    args = parse_args(arguments)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print("The bot's configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print("Configuration OK." + ("" if settings.discord_token else " (DISCORD_TOKEN unset)"))
        return 0
    if settings.discord_token is None:
        print(SETUP_STEPS, file=sys.stderr)
        return EXIT_CONFIG

    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, settings.secret_values)
    try:
        return asyncio.run(run(settings, force_sync=args.sync))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
