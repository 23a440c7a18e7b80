"""``GET /v1/streams/{engine}/{distribution}``: exact slices of a stream.

The route is declared as any FastAPI route (its signature makes the OpenAPI document and
validates unusual requests), but served by ``SliceRoute``'s handler: the application's
checks, then ``stream_query.parse`` instead of FastAPI's per-request model solving; a
request the parser is not sure of (and every ``run=``) goes to the declared endpoint.
A slice estimated cheap is made on the event loop; a dearer one in the thread pool; a
large one is streamed from a producer thread (``prefetch``), generated while it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app.api import stream_query
from app.api.caching import matches
from app.api.deps import ServiceDep
from app.api.formats import (
    MEDIA_TYPES,
    Format,
    body_length,
    check_format,
    encode,
    negotiate,
)
from app.api.prefetch import Prefetched, PrefetchedResponse
from app.api.runs_deps import audit, stream_for
from app.api.slice_meta import HeadCache, RawHeaders, SliceHead
from app.api.strict import APP_CHECKS
from app.core.registry import ENGINES
from app.core.streams import Stream, StreamService
from app.schemas import (
    DISTRIBUTIONS_DOC,
    DistributionName,
    EngineName,
    ErrorBody,
    StreamQuery,
    StreamSlice,
)

INLINE_NS = 200_000
"""Slices estimated to take at most this long (and at most INLINE_BYTES) are made on the
event loop: cheaper than a trip to a worker thread and back. A streamed slice (larger than a
chunk) is answered on the event loop when positioning its generator is estimated this cheap:
its values are made by the producer thread as they are sent."""
INLINE_BYTES = 64 << 10

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_HEADERS = {
    "ETag": "Strong validator: the same for the same request in any process of the same "
            "build (library versions and CPU kernel included).",
    "Cache-Control": "Always `public, max-age=31536000, immutable`: a slice never changes.",
    "X-Offset": "First element index.",
    "X-Count": "Number of elements.",
    "X-Next-Offset": "offset + count.",
    "X-Dtype": "Element type of the values.",
    "X-Versions": "numpy, torch, python, torch CPU capability (and jax, when installed) that "
                  "made the values.",
    **{k: v for e in ENGINES.values() for k, v in e.response_headers.items()},
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": StreamSlice,
        "description": "The slice x[offset:offset+count], as JSON, .npy or raw bytes.",
        "content": {MEDIA_TYPES[Format.npy]: _BINARY, MEDIA_TYPES[Format.raw]: _BINARY},
        "headers": {k: {"description": v, "schema": {"type": "string"}}
                    for k, v in _HEADERS.items()},
    },
    304: {"description": "Not modified: If-None-Match holds the ETag."},
    406: {"model": ErrorBody, "description": "The Accept header names no served format."},
    422: {"model": ErrorBody, "description": "A parameter is invalid or over a limit; "
                                              "`parameter` names it."},
    501: {"model": ErrorBody, "description": "A stream that needs hardware (a GPU) or an "
                                              "optional library (JAX) this authority lacks: "
                                              "not reproducible here."},
    503: {"model": ErrorBody, "description": "The device that generates the stream is out "
                                              "of memory for now: retry; or the stream "
                                              "drifted from its known answers here (see "
                                              "/readyz)."},
}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class RawResponse(Response):
    """A whole body with headers already in wire form."""

    def __init__(self, status: int, headers: RawHeaders, body: bytes = b"",
                 media_type: str | None = None) -> None:
        self.status_code, self.body, self.background = status, body, None
        self.media_type = media_type
        if status != 304:
            headers.append((b"content-length", str(len(body)).encode()))
        if media_type is not None:
            headers.append((b"content-type", media_type.encode()))
        self.raw_headers = headers


def streamed(service: StreamService, stream: Stream, count: int) -> bool:
    """A slice over one chunk is sent while a producer thread makes it; a smaller one is
    made whole."""
    return count * stream.dtype.itemsize > service.limits.chunk_bytes


def respond(service: StreamService, head: SliceHead, offset: int, count: int,
            fmt_param: str | None, accept: str | None, if_none_match: str | None,
            accepted: Callable[[], None] | None = None) -> Response:
    """The answer to a valid slice request: 304, a whole body, or a streamed one.
    ``accepted`` is called once the request is known valid, before any value is made."""
    stream = head.stream
    service.check_window(offset, count)
    fmt = negotiate(fmt_param, accept)
    check_format(fmt, stream.dtype)
    etag = head.etag(offset, count, fmt)
    info = stream.call_info(offset + count)
    headers = head.headers(etag, offset, count, dict(info.headers) if info else None)
    if accepted is not None:
        accepted()
    if matches(if_none_match, etag):
        return RawResponse(304, headers)
    chunks = service.open_slice(stream, offset, count)
    json_head = (head.json_head(offset, count, dict(info.facts) if info else None)
                 if fmt is Format.json else b"")
    body = encode(fmt, stream.dtype, count, json_head, chunks)
    media_type = MEDIA_TYPES[fmt]
    if not streamed(service, stream, count):
        return RawResponse(200, headers, b"".join(body), media_type)
    length = body_length(fmt, stream.dtype, count)
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return PrefetchedResponse(Prefetched(body), media_type, headers)


class SliceRoute(APIRoute):
    """Serves the declared endpoint's requests through ``stream_query.parse`` when the
    application's dependencies are exactly ``APP_CHECKS`` (else always through FastAPI)."""

    def get_route_handler(self) -> Handler:
        declared = super().get_route_handler()
        if self.dependencies:  # the fast path runs the application's checks only
            return declared
        heads = HeadCache()

        async def handler(request: Request) -> Response:
            checks = [d.dependency for d in request.app.router.dependencies]
            if checks != list(APP_CHECKS):
                return await declared(request)
            for check in APP_CHECKS:
                check(request)
            engine = request.path_params["engine"]
            distribution = request.path_params["distribution"]
            query = stream_query.parse(request.query_params.multi_items())
            spec = ENGINES.get(engine)
            if query is None or spec is None or distribution not in spec.distributions:
                return await declared(request)
            service: StreamService = request.app.state.streams
            # spec: re-registered; service: its runtime and limits decided what resolve made
            key = (spec, service, query.stream_key(engine, distribution))
            head = heads.get(key)
            if head is None:
                head = SliceHead(service.resolve(engine, distribution, query.seed,
                                                 query.dtype, query.params, query.spawn_key,
                                                 query.device))
                heads.put(key, head)
            headers = request.headers
            args = (service, head, query.offset, query.count, query.format,
                    headers.get("accept"), headers.get("if-none-match"))
            stream = head.stream
            if query.count <= service.limits.max_count:
                if streamed(service, stream, query.count):  # only positioning is done here
                    cheap = service.reach_ns(stream, query.offset) <= INLINE_NS
                else:
                    cheap = (query.count * stream.dtype.itemsize <= INLINE_BYTES and
                             service.estimate_ns(stream, query.offset, query.count) <= INLINE_NS)
                if cheap:
                    return respond(*args)
            return await run_in_threadpool(respond, *args)

        return handler


router = APIRouter(prefix="/v1/streams", tags=["streams"], route_class=SliceRoute)


@router.get(
    "/{engine}/{distribution}",
    response_model=None,
    responses=RESPONSES,
    summary="An exact slice of a random stream",
    description=(
        "Returns elements offset..offset+count-1 of the stream that the engine's reference "
        "call defines (see the README's table and `/v1/engines`), bit-exactly, whatever "
        "calls came before and whichever process serves it: slices concatenate to one "
        "local call. Format by `format=` or the Accept header."
    ),
)
def get_slice(
    engine: Annotated[EngineName, Path(description="Engine (see /v1/engines).")],
    distribution: Annotated[DistributionName, Path(description=DISTRIBUTIONS_DOC)],
    query: Annotated[StreamQuery, Query()],
    service: ServiceDep,
    request: Request,
    accept: Annotated[str | None, Header(description="application/json, application/x-npy "
                                                     "or application/octet-stream.")] = None,
    if_none_match: Annotated[str | None, Header(description="An ETag from an earlier "
                                                            "response: answered 304.")] = None,
) -> Response:
    """Requests the fast path leaves to FastAPI: run=, and input it is not sure of."""
    stream, run = stream_for(request, query, engine, distribution)
    head = SliceHead(stream, run.name if run is not None else None)

    def accepted() -> None:  # a request naming a run leaves an audit row
        audit(request, run, spawn_key=query.spawn_key, offset=query.offset, count=query.count)

    return respond(service, head, query.offset, query.count, query.format, accept,
                   if_none_match, accepted if run is not None else None)
