"""Settings read from environment variables.

The variable names are the interface that docker-compose, the tests and the README share,
so every name the application reads is listed once in ``SETTINGS_ENV_VARS``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.findings.shards import MAX_SHARDS

SETTINGS_ENV_VARS: tuple[str, ...] = (
    "DATABASE_URL",
    "API_HOST",
    "API_PORT",
    "APP_ENV",
    "JWT_SECRET",
    "JWT_TTL_SECONDS",
    "REFRESH_TTL_SECONDS",
    "CORS_ORIGINS",
    "OLLAMA_URL",
    "OLLAMA_CHAT_MODEL",
    "OLLAMA_EMBED_MODEL",
    "EMBEDDING_DIM",
    "FINDINGS_SEARCH_SHARDS",
    "CRAWL4AI_URL",
    "CRAWL4AI_TOKEN",
    "SEARXNG_URL",
    "SMTP_URL",
    "MAIL_FROM",
    "PUBLIC_URL",
    "SCRAPE_ALLOW_HOSTS",
    "SCHEDULER_ENABLED",
    "TICK_SECONDS",
    "RUN_DEADLINE_SECONDS",
    "WORKER_CONCURRENCY",
    "RUN_LEASE_SECONDS",
    "MAIL_CLAIM_SECONDS",
    "LOG_LEVEL",
    "TRUSTED_PROXIES",
    "LIVE_HEARTBEAT_SECONDS",
    "LIVE_POLL_SECONDS",
    "LIVE_REPLAY_SECONDS",
    "LIVE_MAX_STREAMS",
    "LIVE_MAX_STREAMS_PER_USER",
)

MIN_PRODUCTION_SECRET_LENGTH = 32
_WEAK_SECRETS = frozenset({"secret", "changeme", "change-me", "jwt_secret", "password"})


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name} must be at least {minimum}, got {raw}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(env: Mapping[str, str], name: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for item in _list(env, name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name} must list IP addresses or CIDR ranges, got {item!r}"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./scouts.db"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    app_env: str = "development"
    jwt_secret: str = field(default="", repr=False)
    jwt_ttl_seconds: int = 3600
    refresh_ttl_seconds: int = 30 * 24 * 3600
    cors_origins: tuple[str, ...] = ()
    ollama_url: str = "http://localhost:11434"
    ollama_chat_model: str = "qwen2.5:7b"
    ollama_embed_model: str = "nomic-embed-text"
    embedding_dim: int = 768
    findings_search_shards: int = 2
    crawl4ai_url: str = "http://localhost:11235"
    crawl4ai_token: str = field(default="", repr=False)
    searxng_url: str = "http://localhost:8080"
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "Open Scouts <scouts@localhost>"
    public_url: str = "http://localhost:3000"
    scrape_allow_hosts: frozenset[str] = frozenset()
    scheduler_enabled: bool = True
    tick_seconds: int = 5
    run_deadline_seconds: int = 600
    worker_concurrency: int = 4
    run_lease_seconds: int = 90
    mail_claim_seconds: int = 300
    log_level: str = "INFO"
    # Peers whose X-Forwarded-For is believed (our own front end's proxy); nobody by default.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    live_heartbeat_seconds: float = 15.0
    live_poll_seconds: float = 1.0
    live_replay_seconds: int = 300
    live_max_streams: int = 1000
    live_max_streams_per_user: int = 10
    # The services are the built-in demo fakes (scripts/start --demo); the UI says so.
    demo_mode: bool = False
    # True when no JWT_SECRET was given and a throwaway one was generated (development).
    jwt_secret_generated: bool = False

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def dialect(self) -> str:
        """'postgresql' or 'sqlite', from the URL scheme."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "development").strip() or "development"
        if app_env not in {"development", "production", "test"}:
            raise ConfigError(f"APP_ENV must be development, production or test, got {app_env!r}")
        database_url = env.get("DATABASE_URL", "").strip() or cls.database_url
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        jwt_secret = _jwt_secret(env, app_env)
        generated = not env.get("JWT_SECRET", "").strip()
        return cls(
            database_url=database_url,
            api_host=env.get("API_HOST", "").strip() or cls.api_host,
            api_port=_int(env, "API_PORT", cls.api_port),
            app_env=app_env,
            jwt_secret=jwt_secret,
            jwt_ttl_seconds=_int(env, "JWT_TTL_SECONDS", cls.jwt_ttl_seconds),
            refresh_ttl_seconds=_int(env, "REFRESH_TTL_SECONDS", cls.refresh_ttl_seconds),
            cors_origins=_list(env, "CORS_ORIGINS"),
            ollama_url=(env.get("OLLAMA_URL", "").strip() or cls.ollama_url).rstrip("/"),
            ollama_chat_model=env.get("OLLAMA_CHAT_MODEL", "").strip() or cls.ollama_chat_model,
            ollama_embed_model=env.get("OLLAMA_EMBED_MODEL", "").strip()
            or cls.ollama_embed_model,
            embedding_dim=_int(env, "EMBEDDING_DIM", cls.embedding_dim),
            findings_search_shards=_shards(env),
            crawl4ai_url=(env.get("CRAWL4AI_URL", "").strip() or cls.crawl4ai_url).rstrip("/"),
            crawl4ai_token=env.get("CRAWL4AI_TOKEN", "").strip(),
            searxng_url=(env.get("SEARXNG_URL", "").strip() or cls.searxng_url).rstrip("/"),
            smtp_url=env.get("SMTP_URL", "").strip(),
            mail_from=env.get("MAIL_FROM", "").strip() or cls.mail_from,
            public_url=(env.get("PUBLIC_URL", "").strip() or cls.public_url).rstrip("/"),
            scrape_allow_hosts=frozenset(h.lower() for h in _list(env, "SCRAPE_ALLOW_HOSTS")),
            scheduler_enabled=_bool(env, "SCHEDULER_ENABLED", app_env != "production"),
            tick_seconds=_int(env, "TICK_SECONDS", cls.tick_seconds),
            run_deadline_seconds=_int(env, "RUN_DEADLINE_SECONDS", cls.run_deadline_seconds),
            worker_concurrency=_int(env, "WORKER_CONCURRENCY", cls.worker_concurrency),
            run_lease_seconds=_int(env, "RUN_LEASE_SECONDS", cls.run_lease_seconds, minimum=3),
            mail_claim_seconds=_int(env, "MAIL_CLAIM_SECONDS", cls.mail_claim_seconds,
                                    minimum=2),
            log_level=(env.get("LOG_LEVEL", "").strip() or cls.log_level).upper(),
            demo_mode=_bool(env, "DEMO_MODE", False),
            jwt_secret_generated=generated,
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            live_heartbeat_seconds=_seconds(env, "LIVE_HEARTBEAT_SECONDS",
                                            cls.live_heartbeat_seconds, 1.0),
            # SQLite change poll: once a second at most, however many streams are open.
            live_poll_seconds=_seconds(env, "LIVE_POLL_SECONDS", cls.live_poll_seconds, 1.0),
            live_replay_seconds=_int(env, "LIVE_REPLAY_SECONDS", cls.live_replay_seconds),
            live_max_streams=_int(env, "LIVE_MAX_STREAMS", cls.live_max_streams),
            live_max_streams_per_user=_int(env, "LIVE_MAX_STREAMS_PER_USER",
                                           cls.live_max_streams_per_user),
        )


def _shards(env: Mapping[str, str]) -> int:
    shards = _int(env, "FINDINGS_SEARCH_SHARDS", Settings.findings_search_shards)
    if shards > MAX_SHARDS:
        raise ConfigError(f"FINDINGS_SEARCH_SHARDS must be at most {MAX_SHARDS}, got {shards}")
    return shards


def _jwt_secret(env: Mapping[str, str], app_env: str) -> str:
    secret = env.get("JWT_SECRET", "").strip()
    if app_env == "production":
        if not secret:
            raise ConfigError("JWT_SECRET is required when APP_ENV=production")
        if len(secret) < MIN_PRODUCTION_SECRET_LENGTH or secret.lower() in _WEAK_SECRETS:
            raise ConfigError(
                f"JWT_SECRET is too weak for production: use at least "
                f"{MIN_PRODUCTION_SECRET_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
            )
        return secret
    if not secret:
        # A fresh secret per process keeps development safe by default; the cost is that
        # tokens do not survive a restart (`scouts serve` warns about it).
        return secrets.token_hex(32)
    return secret
