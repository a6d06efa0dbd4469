"""`lora-bot admin`: operator tools over the bot's own database and settings.

Only argument parsing and printing live here; the work is `bot.services.operator`'s,
built by the composition root (`bot.wiring.operator_tools`). No Discord connection and
no web server: every command is a few short statements or transactions through the
same database worker the bot uses, so it is safe while bots run.

Exit codes: 0 done (audit: no offender), 1 audit found offenders or the request was
refused (the reason is printed), 2 bad arguments, configuration or database.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.services.admin_audit import RULES, AuditReport
from bot.services.operator import (
    CREDIT_STATES,
    PAYMENT_STATES,
    TRAINING_STATES,
    AdminRefused,
    Filters,
    Operator,
    RetryResult,
)
from bot.services.payments.prices import format_eth
from bot.services.records import DatabaseError
from bot.services.text import one_line, short_address
from bot.settings import Settings, SettingsError, load_settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
SHORT = 8  # characters of an id shown in tables (--json shows them whole)

DESCRIPTION = """\
Operator tools for the LoRA trainer bot. They read the same settings and .env as the
bot (DATABASE_URL, TURSO_AUTH_TOKEN, FAL_KEY, ...) and are safe to run against the
live database while bots run: short statements, no Discord, no web server."""

AUDIT_HELP = "check the money invariant; exit 1 listing the offenders:\n" + "\n".join(
    f"  {n}. {text}" for n, text in RULES.items()
)

EPILOG = """\
exit codes: 0 done (audit: OK), 1 audit offenders or a refused request, 2 bad
arguments, configuration or database.

examples:
  lora-bot admin payments --wallet 0xAbC... --limit 10
  lora-bot admin credits --discord-user 123456789 --state available --json
  lora-bot admin trainings --state failed
  lora-bot admin grant-credit 0xAbC... --reason "paid twice, tx 0x12..." --by alice
  lora-bot admin retry 3f2a9c1d...   (the full training id)
  lora-bot admin audit"""


def _user_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Discord user id") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Discord user id")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("--limit must be between 1 and 10000")
    return value


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lora-bot admin",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def listing(name: str, what: str, states: tuple[str, ...]) -> None:
        sub = commands.add_parser(
            name,
            help=f"list {what}, newest first",
            description=f"List {what}, newest first (short ids; --json for full ones).",
        )
        sub.add_argument("--wallet", metavar="0x…", help="only this wallet (any letter case)")
        sub.add_argument(
            "--discord-user", metavar="ID", type=_user_id, help="only this Discord user"
        )
        sub.add_argument("--state", choices=states, help="only this state")
        sub.add_argument(
            "--limit", metavar="N", type=_limit, default=50, help="at most N rows (default 50)"
        )
        sub.add_argument("--json", action="store_true", help="one JSON array, full ids")

    listing("payments", "verified payments and the credit each became", PAYMENT_STATES)
    listing("credits", "training credits", CREDIT_STATES)
    listing("trainings", "trainings (the bot's and the web app's)", TRAINING_STATES)

    grant = commands.add_parser(
        "grant-credit",
        help="give a wallet's Discord user one training credit",
        description=(
            "Give one new available training credit to the Discord user who linked "
            "WALLET (or to --discord-user). Who granted it and why are stored with it."
        ),
    )
    grant.add_argument("wallet", metavar="WALLET", help="the wallet (0x…, any letter case)")
    grant.add_argument("--reason", required=True, help="why (stored in the credit's note)")
    grant.add_argument(
        "--discord-user",
        metavar="ID",
        type=_user_id,
        help="the user to credit (needed when nobody linked WALLET)",
    )
    grant.add_argument(
        "--by", metavar="NAME", default=None, help="who grants it (default: your OS user name)"
    )
    grant.add_argument("--json", action="store_true", help="print the credit as JSON")

    retry = commands.add_parser(
        "retry",
        help="ask fal.ai about a training now and apply its answer",
        description=(
            "Ask fal.ai about a training the bot submitted and apply the answer through "
            "the bot's training watcher: a pending one is checked at once; a failed one "
            "that fal actually completed is recorded as completed, if its credit (given "
            "back when it failed) is still available to pay for it again. A user who "
            "was never told is told by the running bot at its next poll. Needs FAL_KEY."
        ),
    )
    retry.add_argument("training_id", metavar="TRAINING_ID", help="the full training id")
    retry.add_argument("--json", action="store_true", help="print the result as JSON")

    audit = commands.add_parser(
        "audit",
        help="check that no payment or credit is lost or spent twice",
        description=AUDIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


# --- printing ------------------------------------------------------------------------


def _short(value: str | None) -> str:
    if not value:
        return "-"
    return value if len(value) <= SHORT else value[:SHORT]


def _wallet(value: str | None) -> str:
    return short_address(value) if value else "-"


def _text(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = one_line(str(value))
    return text if len(text) <= 40 else text[:39] + "…"


def _when(value: str | datetime | None) -> str:
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return _text(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _dump(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, list):
        value = [dataclasses.asdict(v) for v in value]
    return json.dumps(value, default=_jsonable, indent=2, ensure_ascii=False)


def _payments_table(rows: Sequence[Any]) -> str:
    return table(
        ("ID", "VERIFIED", "TX", "PAYER", "USER", "VALUE", "CREDIT", "CREDIT STATE"),
        [
            (
                _short(p.id),
                _when(p.verified_at),
                _short(p.tx_hash[:10]) if p.tx_hash else "-",
                _wallet(p.payer),
                str(p.discord_user_id),
                format_eth(p.value_wei),
                _short(p.credit_id),
                _text(p.credit_status),
            )
            for p in rows
        ],
    )


def _credits_table(rows: Sequence[Any]) -> str:
    return table(
        ("ID", "CREATED", "USER", "WALLET", "SOURCE", "STATE", "TRAINING", "BY", "NOTE"),
        [
            (
                _short(c.id),
                _when(c.created_at),
                str(c.discord_user_id),
                _wallet(c.wallet),
                c.source,
                c.status,
                _short(c.training_id),
                _text(c.granted_by),
                _text(c.note),
            )
            for c in rows
        ],
    )


def _trainings_table(rows: Sequence[Any]) -> str:
    return table(
        ("ID", "CREATED", "STATUS", "FAL", "USER", "WALLET", "TRIGGER", "CREDIT", "TOLD"),
        [
            (
                _short(t.lora_id),
                _when(t.created_at),
                t.status,
                _text(t.state),
                _text(t.discord_user_id),
                _wallet(t.wallet),
                _text(t.trigger_word),
                _short(t.credit_id),
                "yes" if t.notified_at else ("-" if t.discord_user_id is None else "no"),
            )
            for t in rows
        ],
    )


def _audit_text(report: AuditReport) -> str:
    c = report.counts
    checked = f"{c.payments} payments, {c.credits} credits, {c.trainings} trainings checked"
    if report.ok:
        return f"OK: {checked}"
    lines = [f"FAILED: {len(report.offenses)} offender(s) in {checked}"]
    lines += [f"  {offense.describe()}" for offense in report.offenses]
    return "\n".join(lines)


def _audit_json(report: AuditReport) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "checked_at": report.checked_at,
            "counts": dataclasses.asdict(report.counts),
            "offenders": [
                {
                    "rule": o.rule,
                    "rule_text": RULES[o.rule],
                    "problem": o.problem,
                    **dataclasses.asdict(o.finding),
                }
                for o in report.offenses
            ],
        },
        indent=2,
    )


def _retry_text(result: RetryResult) -> str:
    lines = [
        f"Training {result.lora_id}: fal says {result.fal_state}; "
        f"it was {result.before}, it is {result.after}."
    ]
    if result.note:
        lines.append(result.note)
    if result.notice == "queued":
        lines.append("The user was not told yet: a running bot tells them at its next poll.")
    elif result.notice == "told":
        lines.append("The user was told already.")
    return "\n".join(lines)


# --- running -------------------------------------------------------------------------


async def _dispatch(operator: Operator, args: argparse.Namespace) -> tuple[int, str]:
    command: str = args.command
    if command in ("payments", "credits", "trainings"):
        filters = Filters(
            wallet=args.wallet,
            discord_user_id=args.discord_user,
            state=args.state,
            limit=args.limit,
        )
        listers: dict[str, tuple[Any, Callable[[Sequence[Any]], str]]] = {
            "payments": (operator.list_payments, _payments_table),
            "credits": (operator.list_credits, _credits_table),
            "trainings": (operator.list_trainings, _trainings_table),
        }
        fetch, render = listers[command]
        rows = await fetch(filters)
        if args.json:
            return EXIT_OK, _dump(rows)
        return EXIT_OK, render(rows) if rows else f"No {command} match."
    if command == "grant-credit":
        by = args.by if args.by is not None else _default_operator()
        credit = await operator.grant_credit(
            args.wallet, reason=args.reason, granted_by=by, discord_user_id=args.discord_user
        )
        if args.json:
            return EXIT_OK, _dump(credit)
        return EXIT_OK, (
            f"Granted credit {credit.id} to Discord user {credit.discord_user_id} "
            f"(wallet {credit.wallet}), by {credit.granted_by}: {credit.note}\n"
            "Their next /train uses it."
        )
    if command == "retry":
        result = await operator.retry(args.training_id.strip())
        return EXIT_OK, _dump(result) if args.json else _retry_text(result)
    report = await operator.audit()
    text = _audit_json(report) if args.json else _audit_text(report)
    return (EXIT_OK if report.ok else EXIT_REFUSED), text


async def _run(settings: Settings, args: argparse.Namespace) -> tuple[int, str]:
    from bot.wiring import operator_tools

    async with operator_tools(settings) as operator:
        return await _dispatch(operator, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print("The bot's configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE

    from bot.logs import configure_logging

    # Only what goes wrong: stdout is the command's answer, stderr its warnings.
    configure_logging("WARNING", settings.log_format, settings.secret_values, stream=sys.stderr)
    try:
        code, text = asyncio.run(_run(settings, args))
    except AdminRefused as refused:
        print(f"Refused: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    except DatabaseError as exc:
        print(f"DATABASE_URL: the database could not be used: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    print(text)
    return code
