"""Settings: one line per problem, secrets hidden, optional features optional."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.services.admin import AdminWallets
from bot.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "MTEx.fake-discord-token.abcdefghijklmnopqrstuvwxyz"


def settings(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def test_defaults_start_with_an_embedded_database() -> None:
    s = settings()
    assert s.database_url == "file:data/lora-bot.db"
    assert s.database_config().mode == "embedded"
    assert s.fal_key is None and s.base_rpc_url is None and s.treasury_address is None
    assert s.training_price_usd == 4


def test_every_problem_gets_its_own_line_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        settings(
            database_url="mysql://db",
            http_port="eighty",
            treasury_address="0x123",
            log_level="loud",
            discord_gateway_url="http://nope",
        )
    problems = caught.value.problems
    assert len(problems) == 5
    names = sorted(p.split(":", 1)[0] for p in problems)
    assert names == [
        "DATABASE_URL",
        "DISCORD_GATEWAY_URL",
        "HTTP_PORT",
        "LOG_LEVEL",
        "TREASURY_ADDRESS",
    ]
    assert all("(expected " in p for p in problems)


def test_secret_values_never_appear_in_repr_or_errors() -> None:
    s = settings(
        discord_token=TOKEN, fal_key="fal-secret-key-123456", base_rpc_url="https://rpc/k3y"
    )
    text = repr(s) + str(s)
    assert TOKEN not in text and "fal-secret-key-123456" not in text and "k3y" not in text
    with pytest.raises(SettingsError) as caught:
        settings(base_rpc_url="ftp://user:supersecretpw@rpc")
    assert "supersecretpw" not in str(caught.value)


def test_addresses_are_checksummed_and_lists_split() -> None:
    s = settings(
        treasury_address="0x000000000000000000000000000000000000dead",
        admin_wallets=" 0x000000000000000000000000000000000000beef,0x000000000000000000000000000000000000dEaD ",
    )
    assert s.treasury_address == "0x000000000000000000000000000000000000dEaD"
    assert s.admin_wallets == (
        "0x000000000000000000000000000000000000bEEF",
        "0x000000000000000000000000000000000000dEaD",
    )
    admins = AdminWallets.of(s.admin_wallets)
    assert "0x000000000000000000000000000000000000BEEF" in admins  # any case
    assert "0x0000000000000000000000000000000000000001" not in admins


def test_blank_values_mean_unset() -> None:
    s = settings(fal_key="", treasury_address="  ", shard_count="")
    assert s.fal_key is None and s.treasury_address is None and s.shard_count is None


def test_cross_field_rules() -> None:
    with pytest.raises(SettingsError, match="SHARD_COUNT"):
        settings(shard_ids="0,1")
    with pytest.raises(SettingsError, match="below SHARD_COUNT"):
        settings(shard_ids="0,2", shard_count=2)
    with pytest.raises(SettingsError, match="TURSO_SYNC_URL"):
        settings(database_url="libsql://x.turso.io", turso_sync_url="libsql://x.turso.io")
    replica = settings(database_url="file:replica.db", turso_sync_url="libsql://x.turso.io")
    assert replica.database_config().mode == "embedded-replica"


def test_database_config_repr_hides_the_token() -> None:
    s = settings(database_url="libsql://db.turso.io", turso_auth_token="tok-123456789")
    assert "tok-123456789" not in repr(s.database_config())


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**clean, **env},
        cwd=ROOT / "tests" / "data",  # no .env here
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_broken_value_exits_2_with_a_clear_line_and_no_traceback() -> None:
    result = run_cli({"DISCORD_TOKEN": TOKEN, "HTTP_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "HTTP_PORT:" in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_missing_token_explains_how_to_get_one() -> None:
    result = run_cli({})
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr and "discord.com/developers" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_accepts_a_good_configuration() -> None:
    result = run_cli({"DISCORD_TOKEN": TOKEN}, "--check-config")
    assert result.returncode == 0, result.stderr
    assert "Configuration OK" in result.stdout
