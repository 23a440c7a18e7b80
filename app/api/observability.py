"""Request ids, one log line per request, and the per-request metrics.

``RequestMiddleware`` (pure ASGI, so streamed bodies stay streamed) takes the caller's
``X-Request-ID`` (or makes one), echoes it on every response, adds it to JSON error bodies
as ``request_id``, and when the response is done writes one log line (time, request id,
method, route template, status, duration, engine, count, bytes, client) and updates the
metrics. An exception that escapes the app becomes a JSON 500 with the request id, and is
logged with its traceback.

``configure_logging`` sets the format of every line: ``json`` (one object per line, for
containers) or ``text`` (for people), and replaces uvicorn's access log, which would only
repeat the request line without the request id.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, MutableMapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_ERROR_BODY_MAX = 64 << 10

LOGGER = "seed_authority"
access_log = logging.getLogger(f"{LOGGER}.access")
error_log = logging.getLogger(f"{LOGGER}.error")

_request_id: ContextVar[str | None] = ContextVar("seed_authority_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a sane token (at most 128 of ``A-Za-z0-9._:@/+=-``),
    else a fresh one: ids go into logs and headers verbatim."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------
# Logging

# uvicorn adds color_message: the message again, with terminal colour codes
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "color_message"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a log call passed through ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


_SECOND: list[tuple[int, str]] = [(-1, "")]
"""The last second printed: its text is reused for the lines of the same second."""


def _timestamp(record: logging.LogRecord) -> str:
    """``2026-12-01T10:00:00.123Z``: UTC, milliseconds truncated."""
    second = int(record.created)
    last, text = _SECOND[0]
    if second != last:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND[0] = (second, text)
    return f"{text}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or current_request_id()
        if rid is not None:
            doc["request_id"] = rid
        doc.update(_fields(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL message key=value ...`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        rid = fields.pop("request_id", None) or current_request_id()
        parts = [_timestamp(record), record.levelname, record.getMessage()]
        if rid is not None:
            parts.append(f"request_id={rid}")
        parts += [f"{k}={v}" for k, v in fields.items() if v is not None]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_HANDLER_NAME = "seed_authority"


def configure_logging(fmt: Literal["json", "text"], level: str = "info") -> None:
    """Send this service's and uvicorn's log records to stderr in ``fmt``; silence uvicorn's
    access log (the request middleware writes one line per request instead). Idempotent."""
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
        if name == "uvicorn.error":
            logger.handlers.clear()  # its records reach the handler of "uvicorn"
            logger.propagate = True
            continue
        if name == "uvicorn":
            logger.handlers.clear()
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level.upper())
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True


# ---------------------------------------------------------------------------------------------
# The middleware


def route_of(scope: Scope) -> str:
    """The path template of the route that served the request (never the raw path, which
    would make one metric series per seed), or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class RequestMiddleware:
    def __init__(self, app: ASGIApp, on_done: Sequence[Callable[[], None]] = ()) -> None:
        self.app = app
        self.on_done = tuple(on_done)
        """Called after each request's line is logged (metrics copies, ``GcPacer.tick``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        incoming = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = request_id_from(incoming)
        token = _request_id.set(rid)
        state: dict[str, Any] = {"status": 500, "bytes": 0, "started": False,
                                 "count": None, "elements": None}
        held: list[Message] = []  # an error response's start, until its body is known

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = rid
                state["count"] = headers.get("x-count")
                state["elements"] = headers.get("x-elements")
                if message["status"] >= 400 and headers.get("content-type", "").startswith(
                        "application/json"):
                    held.append(message)
                    return
            elif message["type"] == "http.response.body":
                if held:
                    start, message = _with_request_id(held.pop(), message, rid, state)
                    await send(start)
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            failure = exc
            if state["started"] and not held:
                raise  # part of the body is out: only dropping the connection is left
            held.clear()
            state["error"] = "internal_error"
            await _send_internal_error(send_wrapper, rid)
        finally:
            self._done(scope, state, time.perf_counter() - started_at, failure)
            _request_id.reset(token)

    def _done(self, scope: Scope, state: dict[str, Any], seconds: float,
              failure: BaseException | None) -> None:
        route, method, status = route_of(scope), scope["method"], int(state["status"])
        path_params: dict[str, Any] = scope.get("path_params") or {}
        engine = path_params.get("engine")
        distribution = path_params.get("distribution")
        count = _int(state["count"]) if state["count"] is not None else _int(state["elements"])
        try:
            metrics.observe_request(route, method, status, seconds)
            if status == 200 and failure is None:
                if state["count"] is not None and engine and distribution:
                    metrics.observe_values(str(engine), str(distribution), count or 0)
                if state["elements"] is not None:
                    metrics.observe_init_elements(count or 0)
        except Exception:  # metrics must never fail a request
            error_log.exception("metrics update failed")
        fields: dict[str, Any] = {
            "event": "request",
            "method": method,
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "engine": _text(engine),
            "distribution": _text(distribution),
            "count": count,
            "bytes": state["bytes"],
            "client": _client(scope),
        }
        for key in ("error", "parameter", "error_message"):
            if key in state:
                fields[key] = state[key]
        trace_id = _trace_id()
        if trace_id is not None:
            fields["trace_id"] = trace_id
        if failure is not None:
            error_log.error("unhandled exception", exc_info=failure,
                            extra={"event": "exception", "route": route, "method": method})
        level = (logging.ERROR if status >= 500 else logging.WARNING if status >= 400
                 else logging.INFO)
        log_access(level, f"{method} {route} {status}", fields)
        for hook in self.on_done:
            try:
                hook()
            except Exception:  # bookkeeping must never fail a request
                error_log.exception("after-request hook failed")


_RECORD_BASES: dict[tuple[int, int], dict[str, Any]] = {}


def log_access(level: int, message: str, fields: dict[str, Any]) -> None:
    """``access_log.log(level, message, extra=fields)`` for a request's line, at a fraction of
    its cost: what never varies between lines (where it is logged from, the process and the
    thread) is copied from a record made once per thread instead of looked up each time
    (the caller's frame, the process name...). Filters and handlers run as usual."""
    if not access_log.isEnabledFor(level):
        return
    key = (os.getpid(), threading.get_ident())
    base = _RECORD_BASES.get(key)
    if base is None:
        base = _RECORD_BASES[key] = vars(logging.LogRecord(
            access_log.name, logging.INFO, __file__, 0, "", (), None, "_done"))
    now = time.time()
    record = logging.LogRecord.__new__(logging.LogRecord)
    attrs = record.__dict__
    attrs.update(base)
    attrs.update(fields)
    attrs.update(msg=message, levelno=level, levelname=logging.getLevelName(level), created=now,
                 msecs=int((now - int(now)) * 1000) + 0.0,
                 relativeCreated=base["relativeCreated"] + (now - base["created"]) * 1000)
    access_log.handle(record)


def _trace_id() -> str | None:
    """The OpenTelemetry trace of this request, when tracing is on (app/api/tracing.py)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return getattr(value, "value", None) or str(value)


def _with_request_id(start: Message, body_message: Message, rid: str,
                     state: MutableMapping[str, Any]) -> tuple[Message, Message]:
    """A held error response with ``request_id`` added to its JSON body object (and its
    error fields noted for the log line). A body sent in several parts, or too large, or
    not an object, passes unchanged."""
    body: bytes = body_message.get("body", b"")
    if not body_message.get("more_body") and len(body) <= _ERROR_BODY_MAX:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            doc.setdefault("request_id", rid)
            for key, field in (("error", "error"), ("parameter", "parameter"),
                               ("message", "error_message")):
                if doc.get(key) is not None:
                    state[field] = doc[key]
            body = orjson.dumps(doc)
            MutableHeaders(scope=start)["content-length"] = str(len(body))
            body_message = {**body_message, "body": body}
    return start, body_message


async def _send_internal_error(send: Send, rid: str) -> None:
    body = orjson.dumps({"error": "internal_error", "parameter": None,
                         "message": f"internal error; the log has it under request id {rid}",
                         "request_id": rid})
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
