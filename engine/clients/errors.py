"""Exceptions raised by the clients of external services.

The hierarchy is deliberately small, and each class tells the engine what to do next:

* ``ServiceBusy`` — a service kept failing in a way that usually heals by itself (connection
  refused, timeout, HTTP 429 or 5xx) and the retries are used up. The run should *wait and
  try later* (``retry_after`` seconds when the service said so), not fail.
* ``ServiceError`` — the service answered, but something is wrong that waiting will not fix
  (bad token, a model that is not pulled, JSON output disabled in SearXNG...). The message
  is written for the person operating the deployment.
* ``ModelMissing`` — a ``ServiceError`` for an Ollama model that is not pulled.
* ``ToolError`` — one call failed (a page could not be scraped, a URL is blocked). The
  agent sees the message as the tool's result and can pick another page.
* ``BlockedURL`` — a ``ToolError`` for URLs refused by the SSRF / social-site guard.
"""

from __future__ import annotations


class ClientFailure(Exception):
    """Base of the failures a service client raises on purpose."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.message = message

    def __str__(self) -> str:
        return f"{self.service}: {self.message}"


class ServiceBusy(ClientFailure):
    """Transient failures outlasted the retries; try again later."""

    def __init__(
        self, service: str, message: str, retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(service, message)
        self.retry_after = retry_after
        # Plain words safe to show the scout's owner ("all its search engines failed");
        # ``message`` may hold addresses and exception text and stays with the operator.
        self.hint = hint


class ServiceError(ClientFailure):
    """A non-transient failure; ``status`` is the HTTP status when there was one."""

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(service, message)
        self.status = status


class ModelMissing(ServiceError):
    """Ollama does not have the requested model."""

    def __init__(self, model: str, status: int | None = 404) -> None:
        super().__init__(
            "ollama", f"Ollama has no model '{model}': run `ollama pull {model}`", status
        )
        self.model = model


class ToolError(Exception):
    """A single tool call failed; the message is meant for the agent (and the step log)."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class BlockedURL(ToolError):
    """The URL may not be fetched (private address, bad scheme, social site)."""
