"""One retry policy for every client: tenacity, exponential backoff with jitter, Retry-After.

Clients raise :class:`TransientFailure` for answers that usually heal by themselves (HTTP
429 and 5xx) and let aiohttp's connection errors and timeouts escape; :func:`call_with_retry`
retries those and, when the attempts are used up, turns the last one into ``ServiceBusy`` so
the engine can park the run instead of failing it. Everything else passes through untouched.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from engine.clients.errors import ServiceBusy, ServiceError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up. Tests pass tiny waits."""

    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 20.0
    jitter: float = 0.5
    # A server may ask for a long pause; inside one step we never sleep longer than this.
    # The uncapped value still reaches the engine through ServiceBusy.retry_after.
    max_retry_after: float = 30.0


DEFAULT_POLICY = RetryPolicy()


class TransientFailure(Exception):
    """An answer worth retrying (HTTP 429/5xx or similar)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _is_tls_problem(exc: BaseException) -> bool:
    # A certificate problem will not fix itself by retrying.
    return isinstance(exc, aiohttp.ClientSSLError)


def is_transient(exc: BaseException) -> bool:
    """Connection errors, timeouts and TransientFailure are worth another attempt."""
    if isinstance(exc, TransientFailure):
        return True
    if _is_tls_problem(exc):
        return False
    return isinstance(
        exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
    )


def describe(exc: BaseException) -> str:
    if isinstance(exc, TransientFailure):
        return exc.message
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Wait:
    """Exponential backoff with jitter, replaced by the server's Retry-After when given."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self._policy.max_retry_after)
        return float(self._backoff(state))


def http_failure(
    service: str, label: str, status: int, message: str, retry_after: str | None,
    what: str = "request",
) -> Exception:
    """The exception for an HTTP error answer no client-specific rule explained: transient
    statuses are retried (then ServiceBusy), anything else is a ServiceError."""
    if transient_status(status):
        return TransientFailure(f"{label} answered HTTP {status}: {message}", status,
                                parse_retry_after(retry_after))
    return ServiceError(service, f"{label} rejected the {what} (HTTP {status}): {message}",
                        status)


def transient_status(status: int) -> bool:
    return status == 429 or status >= 500


async def call_with_retry(
    service: str, fn: Callable[[], Awaitable[T]], policy: RetryPolicy = DEFAULT_POLICY
) -> T:
    """Run ``fn`` under the policy; exhausted transient failures become ``ServiceBusy``."""
    # Most calls succeed at once, and tenacity's bookkeeping cost a worker about 5% of its
    # CPU per call, so the first attempt runs bare. A transient failure is then replayed
    # as tenacity's first attempt: waits and attempt counts stay exactly the policy's.
    try:
        return await fn()
    except Exception as exc:
        if not is_transient(exc):
            raise
        first_failure: Exception | None = exc

    async def replay_then_call() -> T:
        nonlocal first_failure
        if first_failure is not None:
            failure, first_failure = first_failure, None
            raise failure
        return await fn()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=_Wait(policy),
        retry=retry_if_exception(is_transient),
        reraise=True,
    )
    try:
        return await retrying(replay_then_call)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError) or not is_transient(exc):
            raise
        attempts = max(1, policy.attempts)
        raise ServiceBusy(
            service,
            f"{service} is unavailable after {attempts} attempt(s): {describe(exc)}",
            getattr(exc, "retry_after", None),
        ) from exc
