"""Security headers, the optional CORS allow-list, and the assembly of the guarding
middleware (``install``): headers -> CORS -> body limit -> API key and rate limit -> app."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.auth import Guard, KeyRing, TokenBuckets, load_keys
from app.api.limits import BodyLimit
from app.config import Settings

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# An API serves data, never pages: nothing may load or frame it. /docs and /redoc are HTML
# that load their script from a CDN and are left without a policy.
CSP = "default-src 'none'; frame-ancestors 'none'"
HTML_PATHS = ("/docs", "/redoc")
_FOR_PAGES = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
_FOR_DATA = [*_FOR_PAGES, (b"content-security-policy", CSP.encode())]
"""What a response gets unless it sets the header itself, in wire form."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = _FOR_PAGES if scope.get("path", "").startswith(HTML_PATHS) else _FOR_DATA

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = MutableHeaders(scope=message).raw  # the message's own list
                present = {name for name, _ in raw}
                raw.extend(item for item in added if item[0] not in present)
            await send(message)

        await self.app(scope, receive, with_headers)


def origins(settings: Settings) -> list[str]:
    return [o.strip() for o in settings.cors_origins.split(",") if o.strip()]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guards; the last added runs first."""
    keys = KeyRing(load_keys(settings.api_keys, settings.api_keys_file))
    buckets = (TokenBuckets(settings.rate_limit, settings.rate_burst or
                            max(1, int(settings.rate_limit + 0.999)))
               if settings.rate_limit > 0 else None)
    app.state.api_keys_on = bool(keys)
    app.add_middleware(Guard, keys=keys, buckets=buckets)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    allowed = origins(settings)
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Accept",
                                          "If-None-Match", "X-Request-ID"],
                           expose_headers=["ETag", "Retry-After", "X-Request-ID", "X-Offset",
                                           "X-Count", "X-Next-Offset", "X-Dtype",
                                           "X-Versions", "X-Elements"])
    app.add_middleware(SecurityHeaders)


def _takes_run(schema: dict[str, Any], op: dict[str, Any]) -> bool:
    """A ``run`` query parameter, or a ``run`` field in the JSON body."""
    if any(p.get("name") == "run" for p in op.get("parameters", [])):
        return True
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = body.get("schema", {}).get("$ref", "")
    model = schema.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    return "run" in model.get("properties", {})


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


COMMON: dict[str, str] = {
    "401": "API keys are configured and `Authorization: Bearer <key>` is missing or wrong "
           "(`WWW-Authenticate: Bearer`).",
    "429": "Over the rate limit of this key (or client address); `Retry-After` says when "
           "to retry.",
}
WITH_BODY: dict[str, str] = {
    "400": "The body is not valid JSON.",
    "413": "The body is larger than SEED_AUTHORITY_MAX_BODY_BYTES, or the result larger than "
           "a configured limit; `parameter` names which.",
    "415": "The body is not declared JSON (Content-Type: application/json).",
}


def document_guards(app: FastAPI) -> None:
    """Add the statuses the guards answer to every /v1 operation of the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/v1"):
                continue
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                extra = COMMON | (WITH_BODY if method in ("post", "put", "patch") else {})
                if _takes_run(schema, op):
                    extra = extra | {"404": "No run of that name (run=)."}
                for status, text in extra.items():
                    responses.setdefault(status, _error(text))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
