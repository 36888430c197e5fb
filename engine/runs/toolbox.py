"""The external services a run uses, built once per process from the settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from engine.clients.crawl4ai import Crawl4AIClient
from engine.clients.mailer import Mailer
from engine.clients.ollama import OllamaClient
from engine.clients.retry import DEFAULT_POLICY, RetryPolicy
from engine.clients.searxng import SearxngClient
from engine.config import Settings

# Pooled connections per service host; a worker advances WORKER_CONCURRENCY runs at once.
CONNECTIONS_PER_HOST = 10


def _json_dumps(value: Any) -> str:
    # Request bodies carry whole conversations on every model call; orjson encodes them
    # several times faster than the stdlib. What orjson refuses (a lone surrogate from a
    # scraped page, an int beyond 64 bits) the stdlib still sends, escaped, as before.
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


@dataclass
class Toolbox:
    session: aiohttp.ClientSession
    ollama: OllamaClient
    searxng: SearxngClient
    crawl4ai: Crawl4AIClient
    mailer: Mailer

    @classmethod
    def from_settings(cls, settings: Settings, retry: RetryPolicy = DEFAULT_POLICY) -> Toolbox:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit_per_host=CONNECTIONS_PER_HOST),
            json_serialize=_json_dumps,
        )
        return cls(
            session=session,
            ollama=OllamaClient(session, settings.ollama_url, settings.ollama_chat_model,
                                settings.ollama_embed_model, retry=retry),
            searxng=SearxngClient(session, settings.searxng_url, retry=retry),
            crawl4ai=Crawl4AIClient(session, settings.crawl4ai_url, settings.crawl4ai_token,
                                    allow_hosts=settings.scrape_allow_hosts, retry=retry),
            mailer=Mailer(settings.smtp_url or None, settings.mail_from, retry=retry),
        )

    async def close(self) -> None:
        await self.mailer.close()
        await self.session.close()
