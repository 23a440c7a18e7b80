"""One error shape for every error: ``{"error", "parameter", "message"}``.

Every exception reaching the top of the application becomes JSON: the core's refusals
(4xx), validation errors (422), HTTP errors (404, 405 with ``Allow``, 400 for an unreadable
body) and, as a last resort, a 500 carrying the request id, whose traceback is logged but
never sent (observability.RequestMiddleware answers it first; this handler is the fallback).
The test suite proves that no input reaches it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api.observability import current_request_id
from app.core.errors import AuthorityError

log = logging.getLogger("seed_authority.errors")
REQUEST_ID = "X-Request-ID"


def error_response(status: int, code: str, parameter: str | None, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "parameter": parameter, "message": message},
                        status_code=status, headers=dict(headers or {}))


async def _authority_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthorityError)
    response = error_response(exc.status, exc.code, exc.parameter,
                              f"{exc.parameter}: {exc.reason}", exc.headers)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _path(loc: list[Any]) -> str | None:
    """("body", "modules", 0, "type") -> "modules[0].type"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or None


def _describe(err: dict[str, Any]) -> tuple[str | None, str]:
    parameter = _path([p for p in err.get("loc", ()) if p not in ("query", "path", "body",
                                                                     "header")])
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        msg = "unknown parameter"
    elif err.get("type") == "missing":
        msg = "required"
    text = f"{parameter}: {msg}" if parameter else msg
    if "input" in err and err.get("type") not in ("missing", "extra_forbidden"):
        text += f" (got {_short(err['input'])})"
    return parameter, text


def _short(value: Any) -> str:
    """At most 80 characters of a value, without converting huge integers to text."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, list | dict | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return repr(str(value)[:80])


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if errors and errors[0].get("type") == "json_invalid":
        return error_response(400, "invalid_body", "body",
                              f"body: not valid JSON ({errors[0].get('msg', 'invalid')})")
    parameter, message = _describe(errors[0]) if errors else (None, "invalid request")
    if len(errors) > 1:
        message += "; " + "; ".join(_describe(e)[1] for e in errors[1:4])
    return error_response(422, "invalid_parameter", parameter, message)


_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed",
          413: "too_large", 415: "unsupported_media_type"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    parameter = "body" if exc.status_code in (400, 413, 415) else None
    headers = exc.headers
    if exc.status_code == 405:  # Starlette names only the first matching route's methods
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    return error_response(exc.status_code, code, parameter, str(exc.detail), headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route of the application serves at this path (asked of the routes
    themselves, so routers included in routers are asked too)."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in request.app.routes)]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The last resort, behind observability.RequestMiddleware's own: a JSON 500 naming the
    request id; the traceback goes to the log."""
    rid = current_request_id() or uuid.uuid4().hex
    log.error("unhandled error in %s %s (request id %s)", request.method, request.url.path, rid,
              exc_info=exc)
    return error_response(500, "internal_error", None,
                          f"internal error; quote request id {rid} to the operator",
                          {REQUEST_ID: rid})


def install(app: FastAPI) -> None:
    app.add_exception_handler(AuthorityError, _authority_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
