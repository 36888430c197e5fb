"""Domain errors. The API maps each one to a status code; the CLI prints its message."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class ValidationFailed(DomainError):
    code = "validation_error"


class Conflict(DomainError):
    code = "conflict"


class Unauthorized(DomainError):
    code = "unauthorized"


class Unavailable(DomainError):
    """A service we depend on failed; the caller did nothing wrong."""

    code = "unavailable"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float, **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after
