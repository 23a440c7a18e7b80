"""The request-body limit: ``SEED_AUTHORITY_MAX_BODY_BYTES``.

A pure ASGI middleware, so nothing is buffered before the check: a ``Content-Length`` over
the limit is answered 413 before one byte of the body is read, and a body without one
(chunked) is counted while it is read and refused as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body without Content-Length passes the limit; FastAPI
    re-raises HTTP exceptions met while reading a body, so it reaches the error handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))


def _message(limit: int) -> str:
    return f"body: larger than the limit of {limit} bytes (SEED_AUTHORITY_MAX_BODY_BYTES)"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is None and not _chunked(scope):  # no body: nothing to count
            await self.app(scope, receive, send)
            return
        if length is not None and length > self.max_bytes:
            await _refuse(scope, receive, send, self.max_bytes)
            return
        if length is not None:  # the server delivers no more than it declares
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    """The declared length; a malformed one counts as too large (the server refuses it)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 1 << 62
    return None


def _chunked(scope: Scope) -> bool:
    """A body of unknown length follows (Transfer-Encoding)."""
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = error_response(413, "too_large", "body", _message(limit),
                              {"Connection": "close"})
    await response(scope, receive, send)
