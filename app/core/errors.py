"""Errors raised by the core. Each names the parameter at fault and the reason."""

from __future__ import annotations


class AuthorityError(Exception):
    """Base class: a request the core refuses, with an HTTP-like status."""

    status: int = 422
    code: str = "invalid_parameter"

    def __init__(self, parameter: str, reason: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason
        self.headers = headers or {}


class InvalidParameter(AuthorityError):
    """A parameter is malformed, out of range, or a combination the library cannot do."""


class UnknownName(AuthorityError):
    """An engine, distribution or dtype that the registry does not list."""

    status = 404
    code = "not_found"


class LimitExceeded(AuthorityError):
    """A request over a configured limit (count, cost of reaching an offset)."""

    code = "limit_exceeded"


class TooLarge(AuthorityError):
    """A request whose result would exceed the configured size limit."""

    status = 413
    code = "too_large"


class Unavailable(AuthorityError):
    """A request the service cannot serve now but may later (GPU memory exhausted, the
    memory budget busy, a stream that drifted from its known answers)."""

    status = 503
    code = "unavailable"
