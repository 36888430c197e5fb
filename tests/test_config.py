from __future__ import annotations

import pytest

from engine.config import SETTINGS_ENV_VARS, ConfigError, Settings

STRONG = "f" * 64


def test_defaults_work_for_a_newcomer() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///./scouts.db"
    assert settings.dialect == "sqlite"
    assert settings.scheduler_enabled is True
    assert len(settings.jwt_secret) == 64 and settings.jwt_secret_generated


def test_production_refuses_missing_or_weak_secrets() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        Settings.from_env({"APP_ENV": "production"})
    for weak in ("secret", "short-but-not-empty", "changeme"):
        with pytest.raises(ConfigError, match="too weak"):
            Settings.from_env({"APP_ENV": "production", "JWT_SECRET": weak})
    settings = Settings.from_env({"APP_ENV": "production", "JWT_SECRET": STRONG})
    assert settings.scheduler_enabled is False  # production runs `scouts worker` instead
    assert not settings.jwt_secret_generated


def test_secrets_never_appear_in_the_repr() -> None:
    settings = Settings.from_env({"JWT_SECRET": STRONG, "CRAWL4AI_TOKEN": "tok-123456",
                                  "SMTP_URL": "smtp://user:hunter2@mail:25"})
    text = repr(settings)
    for secret in (STRONG, "tok-123456", "hunter2"):
        assert secret not in text


@pytest.mark.parametrize("env,message", [
    ({"API_PORT": "http"}, "API_PORT must be a whole number"),
    ({"TICK_SECONDS": "0"}, "TICK_SECONDS must be at least 1"),
    ({"SCHEDULER_ENABLED": "maybe"}, "SCHEDULER_ENABLED must be true or false"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
    ({"APP_ENV": "staging"}, "APP_ENV must be"),
    ({"FINDINGS_SEARCH_SHARDS": "0"}, "FINDINGS_SEARCH_SHARDS must be at least 1"),
    ({"FINDINGS_SEARCH_SHARDS": "17"}, "FINDINGS_SEARCH_SHARDS must be at most 16"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_lists_and_urls_are_normalised() -> None:
    settings = Settings.from_env({"CORS_ORIGINS": " https://a.example , ,https://b.example",
                                  "SCRAPE_ALLOW_HOSTS": "127.0.0.1, Example.COM",
                                  "OLLAMA_URL": "http://ollama:11434/"})
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.scrape_allow_hosts == frozenset({"127.0.0.1", "example.com"})
    assert settings.ollama_url == "http://ollama:11434"


def test_every_setting_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in SETTINGS_ENV_VARS:
        assert f"`{name}`" in readme, name


def test_trusted_proxies_are_parsed_and_checked() -> None:
    import ipaddress

    assert Settings.from_env({}).trusted_proxies == ()
    settings = Settings.from_env({"TRUSTED_PROXIES": "127.0.0.1, 172.16.0.0/12,::1"})
    assert settings.trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "frontend"})


def test_findings_search_shards() -> None:
    assert Settings.from_env({}).findings_search_shards == 2
    assert Settings.from_env({"FINDINGS_SEARCH_SHARDS": "4"}).findings_search_shards == 4
