"""One error shape for every 4xx: ``{"error", "parameter", "message"}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import AuthorityError


def error_response(status: int, code: str, parameter: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "parameter": parameter, "message": message},
                        status_code=status)


async def _authority_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthorityError)
    response = error_response(exc.status, exc.code, exc.parameter,
                              f"{exc.parameter}: {exc.reason}")
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
        text += f" (got {str(err['input'])[:80]!r})"
    return parameter, text


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    parameter, message = _describe(errors[0]) if errors else (None, "invalid request")
    if len(errors) > 1:
        message += "; " + "; ".join(_describe(e)[1] for e in errors[1:4])
    return error_response(422, "invalid_parameter", parameter, message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = "not_found" if exc.status_code == 404 else "http_error"
    return error_response(exc.status_code, code, None, str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(AuthorityError, _authority_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
