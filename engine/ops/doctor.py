"""``scouts doctor``: is every service there, and set up the way the engine uses it?

Each check talks to the service like a run would (the same clients, endpoints and models)
and ends in one line: what was found and, when something is wrong, the fix. The report
never holds secrets or addresses (URLs may carry credentials; SMTP_URL usually does), so
the same text is safe in the start-up log and at ``GET /api/health?deep=1``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiosmtplib

from engine.clients._http import join_url
from engine.clients.errors import ClientFailure, ServiceBusy
from engine.clients.mailer import parse_smtp_url
from engine.clients.ollama import OllamaClient
from engine.clients.retry import RetryPolicy
from engine.clients.searxng import SearxngClient
from engine.config import Settings

# One attempt each: the doctor reports how things are, it does not wait for them to heal.
ONCE = RetryPolicy(attempts=1)
TIMEOUT_SECONDS = 10.0
# A deep health check searches the web; repeated calls within this window reuse the report.
CACHE_SECONDS = 30.0
PROBE_QUERY = "weather"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<10} {self.detail}"
        return text + (f" -> fix: {self.fix}" if self.fix and not self.ok else "")

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "degraded",
                "checks": [c.as_json() for c in self.checks]}


def _model_names(tags: Any) -> set[str]:
    models = tags.get("models") if isinstance(tags, dict) else None
    names: set[str] = set()
    for model in models if isinstance(models, list) else []:
        for key in ("name", "model"):
            value = model.get(key) if isinstance(model, dict) else None
            if isinstance(value, str):
                names.add(value)
    return names


def _pulled(model: str, names: set[str]) -> bool:
    # "nomic-embed-text" and "nomic-embed-text:latest" are the same model.
    full = model if ":" in model else f"{model}:latest"
    return model in names or full in names


class Doctor:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        self._cached: tuple[float, Report] | None = None
        self._lock = asyncio.Lock()

    async def report(self, fresh: bool = False) -> Report:
        """Every check, run side by side; reused for ``CACHE_SECONDS`` unless ``fresh``."""
        async with self._lock:
            if not fresh and self._cached and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            groups = await asyncio.gather(
                self._guarded("ollama", self._ollama),
                self._guarded("searxng", self._searxng),
                self._guarded("crawl4ai", self._crawl4ai),
                self._guarded("smtp", self._smtp),
            )
            report = Report([check for group in groups for check in group])
            self._cached = (time.monotonic(), report)
            return report

    async def _guarded(
        self, name: str, check: Callable[[], Awaitable[list[Check]]]
    ) -> list[Check]:
        try:
            return await asyncio.wait_for(check(), TIMEOUT_SECONDS * 2)
        except TimeoutError:
            return [Check(name, False, "did not answer in time",
                          f"check that {name} is running and reachable")]
        except Exception as exc:  # a broken check must not hide the others
            return [Check(name, False, f"could not be checked ({type(exc).__name__})",
                          f"check that {name} is running and reachable")]

    # ---- Ollama -------------------------------------------------------------------------

    async def _ollama(self) -> list[Check]:
        s = self._settings
        unreachable = "start Ollama, or point OLLAMA_URL at it"
        try:
            async with self._session.get(join_url(s.ollama_url, "/api/tags"),
                                         timeout=self._timeout) as resp:
                if resp.status != 200:
                    return [Check("ollama", False, f"answered HTTP {resp.status} to /api/tags",
                                  unreachable)]
                names = _model_names(await resp.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return [Check("ollama", False, f"not reachable ({type(exc).__name__})", unreachable)]
        missing = [m for m in (s.ollama_chat_model, s.ollama_embed_model)
                   if not _pulled(m, names)]
        if missing:
            pulls = " and ".join(f"`ollama pull {m}`" for m in missing)
            checks = [Check("ollama", False, f"model(s) not pulled: {', '.join(missing)}",
                            f"run {pulls}")]
        else:
            checks = [Check("ollama", True, f"reachable; {s.ollama_chat_model} and "
                            f"{s.ollama_embed_model} pulled")]
        if s.ollama_embed_model in missing:
            return checks
        return checks + [await self._embedding()]

    async def _embedding(self) -> Check:
        s = self._settings
        client = OllamaClient(self._session, s.ollama_url, s.ollama_chat_model,
                              s.ollama_embed_model, timeout=TIMEOUT_SECONDS, retry=ONCE)
        try:
            vector = (await client.embed(["Open Scouts dimension check"]))[0]
        except ClientFailure as exc:
            # Exception text can name hosts; the status is enough to act on.
            status = getattr(exc, "status", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            return Check("embedding", False, f"test embed failed ({what})",
                         f"check that {s.ollama_embed_model} is an embedding model")
        if len(vector) != s.embedding_dim:
            return Check("embedding", False,
                         f"{s.ollama_embed_model} gives {len(vector)} numbers, "
                         f"EMBEDDING_DIM is {s.embedding_dim}",
                         f"set EMBEDDING_DIM={len(vector)}, then run `scouts reembed`")
        return Check("embedding", True, f"{s.ollama_embed_model} gives {len(vector)} numbers "
                     "as EMBEDDING_DIM says")

    # ---- SearXNG ------------------------------------------------------------------------

    async def _searxng(self) -> list[Check]:
        client = SearxngClient(self._session, self._settings.searxng_url,
                               timeout=TIMEOUT_SECONDS, retry=ONCE)
        try:
            reply = await client.search_reply(PROBE_QUERY, limit=1)
        except ServiceBusy as exc:
            if exc.hint:
                return [Check("searxng", False, f"answers, but {exc.hint}",
                              "give SearXNG outbound internet access, or enable other engines "
                              "in its settings.yml")]
            return [Check("searxng", False, "not reachable, or failing",
                          "start SearXNG, or point SEARXNG_URL at it, and read its log")]
        except ClientFailure as exc:
            return [Check("searxng", False, "refused the JSON search",
                          exc.message if "settings.yml" in exc.message else
                          "check SEARXNG_URL and SearXNG's settings.yml")]
        detail = f"answers format=json ({len(reply.results)} result(s) for a test search)"
        if reply.failed_engines:
            detail += f"; failing engines: {', '.join(map(str, reply.failed_engines))}"
        return [Check("searxng", True, detail)]

    # ---- Crawl4AI -----------------------------------------------------------------------

    async def _crawl4ai(self) -> list[Check]:
        s = self._settings
        try:
            async with self._session.get(join_url(s.crawl4ai_url, "/health"),
                                         timeout=self._timeout) as resp:
                if resp.status != 200:
                    return [Check("crawl4ai", False, f"/health answered HTTP {resp.status}",
                                  "restart the Crawl4AI container and read its log")]
            # An empty crawl is refused by validation only once the token was accepted, so
            # this checks the token without fetching anything.
            headers = {"Authorization": f"Bearer {s.crawl4ai_token}"} if s.crawl4ai_token else {}
            async with self._session.post(join_url(s.crawl4ai_url, "/crawl"),
                                          json={"urls": []}, headers=headers,
                                          timeout=self._timeout) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return [Check("crawl4ai", False, f"not reachable ({type(exc).__name__})",
                          "start Crawl4AI, or point CRAWL4AI_URL at it")]
        if status in (401, 403):
            return [Check("crawl4ai", False, f"refused the token (HTTP {status})",
                          "set CRAWL4AI_TOKEN to the CRAWL4AI_API_TOKEN the container runs with")]
        return [Check("crawl4ai", True, "healthy and the token is accepted")]

    # ---- SMTP ---------------------------------------------------------------------------

    async def _smtp(self) -> list[Check]:
        if not self._settings.smtp_url:
            return [Check("smtp", True, "mail is off (SMTP_URL is empty); no emails are sent")]
        try:
            smtp = parse_smtp_url(self._settings.smtp_url)
        except ValueError as exc:
            return [Check("smtp", False, "SMTP_URL is malformed", str(exc))]
        client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, use_tls=smtp.use_tls,
                                 start_tls=smtp.start_tls, timeout=TIMEOUT_SECONDS)
        try:
            await client.connect()
            if not client.last_ehlo_response:
                await client.ehlo()
            # Servers that do not offer AUTH (a local relay, Mailpit) take mail without it.
            if smtp.username and smtp.password and client.supports_extension("auth"):
                await client.login(smtp.username, smtp.password)
            await client.quit()
        except aiosmtplib.SMTPAuthenticationError:
            return [Check("smtp", False, "the server refused the user name or password",
                          "fix the credentials in SMTP_URL")]
        except (aiosmtplib.SMTPException, OSError) as exc:
            return [Check("smtp", False, f"no connection ({type(exc).__name__})",
                          "start the mail server, or fix the host and port in SMTP_URL")]
        return [Check("smtp", True, "the mail server accepts connections")]


async def log_report(doctor: Doctor, log: logging.Logger) -> None:
    """The report in the log at start-up; runs beside start-up, never delays it."""
    report = await doctor.report(fresh=True)
    for check in report.checks:
        (log.info if check.ok else log.warning)("doctor: %s", check.line())
    if not report.ok:
        log.warning("doctor: some services are not ready; runs will wait or fail until "
                    "they are (details: `scouts doctor`)")
