"""The bot's one settings class, read from the environment and `.env`.

Every variable is documented in `.env.example`. A bad value stops start-up with one line
per problem (see `load_settings`); secrets are `SecretStr` so they never show in reprs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from eth_utils.address import is_address, to_checksum_address
from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DatabaseConfig

_ADDRESS_HINT = "a 0x-prefixed 40-hex-digit Ethereum address"
_DB_SCHEMES = ("file:", "libsql://", "http://", "https://", ":memory:")


class SettingsError(Exception):
    """Start-up configuration problems, one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _checksum(value: str) -> str:
    value = value.strip()
    if not is_address(value):
        raise ValueError("is not a valid Ethereum address")
    return str(to_checksum_address(value))


def _hint(text: str) -> Any:
    """What a variable should look like, shown when its value is rejected."""
    return {"hint": text}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    # --- Discord -------------------------------------------------------------
    discord_token: SecretStr | None = Field(
        default=None, json_schema_extra=_hint("the bot token from the Developer Portal")
    )
    discord_api_base_url: AnyHttpUrl | None = Field(
        default=None, json_schema_extra=_hint("a URL such as http://127.0.0.1:8080/api/v10")
    )
    discord_gateway_url: str | None = Field(
        default=None,
        json_schema_extra=_hint("a ws:// or wss:// URL such as ws://127.0.0.1:8080/gateway"),
    )
    shard_count: int | None = Field(
        default=None, ge=1, le=1024, json_schema_extra=_hint("a whole number of shards, 1 or more")
    )
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None, json_schema_extra=_hint("comma-separated shard ids such as 0,1")
    )
    sync_guild_id: int | None = Field(
        default=None, gt=0, json_schema_extra=_hint("a guild id (snowflake) to sync commands to")
    )

    # --- Database -----------------------------------------------------------
    database_url: str = Field(
        default="file:data/lora-bot.db",
        json_schema_extra=_hint(
            "file:data/lora-bot.db, libsql://NAME.turso.io or http://HOST:PORT"
        ),
    )
    turso_auth_token: SecretStr | None = Field(
        default=None, json_schema_extra=_hint("the database token from `turso db tokens create`")
    )
    turso_sync_url: str | None = Field(
        default=None,
        json_schema_extra=_hint("libsql://NAME.turso.io (makes DATABASE_URL a replica)"),
    )
    turso_sync_interval: float | None = Field(
        default=60.0, ge=0, json_schema_extra=_hint("seconds between replica syncs, e.g. 60")
    )
    turso_client: Literal["hrana", "libsql"] = Field(
        default="hrana",
        json_schema_extra=_hint(
            "hrana (one request per statement) or libsql, for libsql:// and http(s):// URLs"
        ),
    )

    # --- HTTP server ----------------------------------------------------------
    http_host: str = Field(
        default="127.0.0.1", json_schema_extra=_hint("an interface, e.g. 0.0.0.0")
    )
    http_port: int = Field(
        default=8080, ge=0, le=65535, json_schema_extra=_hint("a TCP port 0-65535")
    )
    public_base_url: AnyHttpUrl | None = Field(
        default=None,
        json_schema_extra=_hint("the bot's public web address, e.g. https://bot.example.com"),
    )
    siwe_domain: str | None = Field(
        default=None, json_schema_extra=_hint("a host name such as bot.example.com")
    )

    # --- Outside services (optional: the features that need them say so) ----
    fal_key: SecretStr | None = Field(default=None, json_schema_extra=_hint("a fal.ai API key"))
    fal_queue_url: AnyHttpUrl | None = Field(
        default=None, json_schema_extra=_hint("a URL such as https://queue.fal.run/")
    )
    media_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("fal.media", "*.fal.media", "storage.googleapis.com"),
        json_schema_extra=_hint("comma-separated host names, *.example.com for subdomains"),
    )
    arena_api_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.are.na"), json_schema_extra=_hint("https://api.are.na")
    )
    arena_image_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("d2w9rnfcy7mm78.cloudfront.net", "images.are.na", "*.are.na"),
        json_schema_extra=_hint("comma-separated host names, *.example.com for subdomains"),
    )
    arena_min_images: int = Field(default=4, ge=1, le=1000, json_schema_extra=_hint("e.g. 4"))
    arena_max_images: int = Field(default=200, ge=1, le=1000, json_schema_extra=_hint("e.g. 200"))
    training_poll_seconds: float = Field(
        default=10.0, ge=0.05, le=600, json_schema_extra=_hint("seconds between fal polls, e.g. 10")
    )
    generation_reservation_seconds: float = Field(
        default=600.0,
        ge=1,
        le=86400,
        json_schema_extra=_hint("seconds a crashed generation holds its quota slot, e.g. 600"),
    )
    training_lease_seconds: float = Field(
        default=90.0,
        ge=1,
        le=3600,
        json_schema_extra=_hint("seconds before another process takes over a training, e.g. 90"),
    )
    training_progress_edit_seconds: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        json_schema_extra=_hint("least seconds between edits of a progress message, e.g. 15"),
    )
    stop_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        le=600,
        json_schema_extra=_hint("seconds a stopping bot gives work in progress, e.g. 20"),
    )
    fal_rest_url: AnyHttpUrl | None = Field(
        default=None, json_schema_extra=_hint("fal's REST host, e.g. https://rest.fal.ai")
    )
    fal_cdn_url: AnyHttpUrl | None = Field(
        default=None, json_schema_extra=_hint("fal's upload host, e.g. https://v3.fal.media")
    )
    fal_webhook_jwks_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://rest.alpha.fal.ai/.well-known/jwks.json"),
        json_schema_extra=_hint(
            "fal's webhook keys, e.g. https://rest.alpha.fal.ai/.well-known/jwks.json"
        ),
    )
    payment_confirmations: int = Field(
        default=2, ge=1, le=100, json_schema_extra=_hint("blocks on top of a payment, e.g. 2")
    )
    payment_scan_seconds: float = Field(
        default=2.0,
        ge=0,
        le=600,
        json_schema_extra=_hint("seconds between scans of Base for payments (0: off), e.g. 2"),
    )
    arena_access_token: SecretStr | None = Field(
        default=None, json_schema_extra=_hint("an Are.na personal access token")
    )
    # RPC URLs often carry an API key in their path, so they are treated as secrets.
    base_rpc_url: SecretStr | None = Field(
        default=None, json_schema_extra=_hint("an http(s) JSON-RPC URL for Base mainnet")
    )
    treasury_address: str | None = Field(default=None, json_schema_extra=_hint(_ADDRESS_HINT))
    chainlink_eth_usd_feed: str | None = Field(default=None, json_schema_extra=_hint(_ADDRESS_HINT))
    admin_wallets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), json_schema_extra=_hint("comma-separated Ethereum addresses")
    )
    training_price_usd: Decimal = Field(
        default=Decimal("4"),
        gt=0,
        le=10_000,
        json_schema_extra=_hint("a price in US dollars, e.g. 4"),
    )

    # --- Logging --------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", json_schema_extra=_hint("DEBUG, INFO, WARNING or ERROR")
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", json_schema_extra=_hint("auto (JSON unless a terminal), json or text")
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator(
        "discord_token",
        "turso_auth_token",
        "fal_key",
        "arena_access_token",
        "base_rpc_url",
        "discord_api_base_url",
        "discord_gateway_url",
        "public_base_url",
        "siwe_domain",
        "fal_queue_url",
        "fal_rest_url",
        "fal_cdn_url",
        "turso_sync_url",
        "treasury_address",
        "chainlink_eth_usd_feed",
        "shard_count",
        "sync_guild_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `FOO=` in a .env file means "not set", not "set to an empty string".
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^wss?://[^/\s]+", value):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator(
        "discord_api_base_url",
        "fal_queue_url",
        "fal_rest_url",
        "fal_cdn_url",
        "public_base_url",
        "arena_api_url",
    )
    @classmethod
    def _no_trailing_query(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.query or value.fragment):
            raise ValueError("must not contain a query string or fragment")
        return value

    @field_validator("base_rpc_url")
    @classmethod
    def _rpc_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^https?://\S+$", value.get_secret_value()):
            # Never echo the value: it may contain an API key.
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(_DB_SCHEMES):
            raise ValueError("must start with file:, libsql://, http:// or https://")
        if value.startswith("file:") and len(value) == len("file:"):
            raise ValueError("needs a path after file:")
        return value

    @field_validator("turso_sync_url")
    @classmethod
    def _sync_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("libsql://", "http://", "https://")):
            raise ValueError("must start with libsql://, http:// or https://")
        return value

    @field_validator("siwe_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?", value):
            raise ValueError("must be a host name (and optional :port), without a scheme or path")
        return value

    @field_validator("treasury_address", "chainlink_eth_usd_feed")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else _checksum(value)

    @field_validator("admin_wallets", mode="before")
    @classmethod
    def _address_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        return tuple(_checksum(str(part)) for part in value)

    @field_validator("media_hosts", "arena_image_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        hosts = tuple(str(h).lower() for h in value)
        for host in hosts:
            if not re.fullmatch(r"(\*\.)?[a-z0-9.-]+", host):
                raise ValueError(f"{host!r} is not a host name")
        return hosts

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in re.split(r"[,\s]+", value) if part]
            if not parts:
                return None
            if not all(part.isdigit() for part in parts):
                raise ValueError("must be comma-separated whole numbers")
            return tuple(int(part) for part in parts)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("SHARD_IDS needs SHARD_COUNT too")
            bad = [i for i in self.shard_ids if i >= self.shard_count]
            if bad:
                raise ValueError(f"SHARD_IDS must all be below SHARD_COUNT ({self.shard_count})")
        if self.training_lease_seconds < 2 * self.training_poll_seconds:
            raise ValueError("TRAINING_LEASE_SECONDS must be at least twice TRAINING_POLL_SECONDS")
        if self.turso_sync_url and not self.database_url.startswith("file:"):
            raise ValueError("TURSO_SYNC_URL needs DATABASE_URL to be a local file: path")
        return self

    # --- Derived ----------------------------------------------------------------
    def database_config(self) -> DatabaseConfig:
        return DatabaseConfig(
            url=self.database_url,
            auth_token=self.turso_auth_token.get_secret_value() if self.turso_auth_token else None,
            sync_url=self.turso_sync_url,
            sync_interval=self.turso_sync_interval,
            remote_client=self.turso_client,
        )

    @property
    def secret_values(self) -> list[str]:
        """Every secret's plain value, for the log redactor."""
        secrets = [
            self.discord_token,
            self.turso_auth_token,
            self.fal_key,
            self.arena_access_token,
            self.base_rpc_url,
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


def _env_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "configuration"
    return str(loc[0]).upper()


def _describe(error: Any) -> str:
    """One line for one pydantic error: the variable, what is wrong, what it should be."""
    name = _env_name(tuple(error.get("loc", ())))
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    field = Settings.model_fields.get(name.lower())
    extra = field.json_schema_extra if field is not None else None
    hint = extra.get("hint") if isinstance(extra, dict) else None
    if name == "CONFIGURATION":
        return f"configuration: {message}"
    line = f"{name}: {message}"
    return f"{line} (expected {hint})" if hint else line


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise `SettingsError` with one line per problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError([_describe(e) for e in exc.errors()]) from None
