"""``GET /v1/streams/{engine}/{distribution}``: exact slices of a stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.api.caching import cache_headers, etag_for, matches
from app.api.deps import ServiceDep
from app.api.formats import (
    MEDIA_TYPES,
    Format,
    body_length,
    check_format,
    encode,
    negotiate,
)
from app.api.runs_deps import audit, stream_for
from app.core.registry import ENGINES
from app.core.streams import Stream
from app.core.versions import versions
from app.schemas import (
    DISTRIBUTIONS_DOC,
    DistributionName,
    EngineName,
    ErrorBody,
    StreamQuery,
    StreamSlice,
)

router = APIRouter(prefix="/v1/streams", tags=["streams"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_HEADERS = {
    "ETag": "Strong validator: the same for the same request in any process of the same "
            "build (library versions and CPU kernel included).",
    "Cache-Control": "Always `public, max-age=31536000, immutable`: a slice never changes.",
    "X-Offset": "First element index.",
    "X-Count": "Number of elements.",
    "X-Next-Offset": "offset + count.",
    "X-Dtype": "Element type of the values.",
    "X-Versions": "numpy, torch, python and torch CPU capability that made the values.",
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


def stream_etag(stream: Stream, offset: int, count: int, fmt: Format) -> str:
    return etag_for({
        "engine": stream.engine.name,
        "distribution": stream.dist.name,
        "dtype": stream.dtype.name,
        "params": {k: repr(v) for k, v in stream.params.items()},
        "seed": stream.seed,
        "spawn_key": list(stream.spawn_key),
        "offset": offset,
        "count": count,
        "format": fmt.value,
    })


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
    stream, run = stream_for(request, query, engine, distribution)
    offset, count = query.offset, query.count
    service.check_window(offset, count)
    fmt = negotiate(query.format, accept)
    check_format(fmt, stream.dtype)
    etag = stream_etag(stream, offset, count, fmt)
    if run is not None:  # the JSON body names the run
        etag = etag_for({"slice": etag, "run": run.name})
        audit(request, run, spawn_key=query.spawn_key, offset=offset, count=count)
    headers = {
        **cache_headers(etag),
        "X-Offset": str(offset),
        "X-Count": str(count),
        "X-Next-Offset": str(offset + count),
        "X-Dtype": stream.dtype.name,
    }
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)

    chunks = service.open_slice(stream, offset, count)
    meta: dict[str, Any] = {
        "engine": stream.engine.name,
        "distribution": stream.dist.name,
        "seed": stream.seed,
        **({"run": run.name} if run is not None else {}),
        "spawn_key": list(stream.spawn_key),
        "offset": offset,
        "count": count,
        "next_offset": offset + count,
        "dtype": stream.dtype.name,
        "params": dict(stream.params),
        "reference": stream.reference(offset, offset + count),
        "versions": versions(),
    }
    info = stream.call_info(offset + count)
    if info is not None:
        meta["local_call"] = dict(info.facts)
        headers.update(info.headers)
    body = encode(fmt, stream.dtype, count, meta, chunks)
    media_type = MEDIA_TYPES[fmt]
    if count * stream.dtype.itemsize <= service.limits.chunk_bytes:
        return Response(b"".join(body), media_type=media_type, headers=headers)
    length = body_length(fmt, stream.dtype, count)
    if length is not None:
        headers["Content-Length"] = str(length)
    return StreamingResponse(body, media_type=media_type, headers=headers)
