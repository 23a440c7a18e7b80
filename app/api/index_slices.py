"""One HTTP answer for every index-order slice (permutations, sampler shards, epochs):
the same formats, headers, ETag and 304 as the streams."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi.responses import Response, StreamingResponse

from app.api.caching import cache_headers, etag_for, matches
from app.api.formats import MEDIA_TYPES, Format, body_length, encode, negotiate
from app.core.dtypes import DTYPES
from app.core.spec import Array
from app.core.versions import versions
from app.schemas_shuffles import DataLoaderSlice, DistributedSlice, PermutationSlice

_BINARY = {"schema": {"type": "string", "format": "binary"}}
HEADERS = {
    "ETag": "Strong validator: the same for the same request in any process of the same build.",
    "Cache-Control": "Always `public, max-age=31536000, immutable`: an index order never "
                     "changes.",
    "X-Offset": "First element index.",
    "X-Count": "Number of elements.",
    "X-Next-Offset": "offset + count.",
    "X-Dtype": "int64 or int32.",
    "X-Total": "Length of the whole order (n, num_samples of the shard or of the epoch).",
    "X-Versions": "numpy, torch, python and torch CPU capability that made the values.",
}


def responses(model: type[PermutationSlice | DistributedSlice | DataLoaderSlice],
              what: str) -> dict[int | str, dict[str, Any]]:
    from app.schemas import ErrorBody

    return {
        200: {"model": model,
              "description": f"{what}, as JSON, .npy or raw little-endian bytes.",
              "content": {MEDIA_TYPES[Format.npy]: _BINARY, MEDIA_TYPES[Format.raw]: _BINARY},
              "headers": {k: {"description": v, "schema": {"type": "string"}}
                          for k, v in HEADERS.items()}},
        304: {"description": "Not modified: If-None-Match holds the ETag."},
        406: {"model": ErrorBody, "description": "The Accept header names no served format."},
        422: {"model": ErrorBody, "description": "A parameter is invalid or over a limit; "
                                                  "`parameter` names it."},
        503: {"model": ErrorBody, "description": "The permutation memory budget is held by "
                                                  "other builds for too long: retry."},
    }


def answer(ident: dict[str, Any], fmt_param: str | None, accept: str | None,
           if_none_match: str | None, dtype: str, offset: int, count: int, total: int,
           meta: Callable[[], dict[str, Any]], chunks: Callable[[], Iterable[Array]],
           chunk_bytes: int) -> Response:
    """Validate the format, answer 304 on a matching ETag, else the slice (the values
    are only built here, after every check)."""
    fmt = negotiate(fmt_param, accept)
    dt = DTYPES[dtype]
    etag = etag_for({**ident, "offset": offset, "count": count, "dtype": dtype,
                     "format": fmt.value})
    headers = {**cache_headers(etag), "X-Offset": str(offset), "X-Count": str(count),
               "X-Next-Offset": str(offset + count), "X-Dtype": dtype, "X-Total": str(total)}
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    values = chunks()
    doc = {**meta(), "offset": offset, "count": count, "next_offset": offset + count,
           "dtype": dtype, "versions": versions()}
    body = encode(fmt, dt, count, doc, values)
    media_type = MEDIA_TYPES[fmt]
    if count * dt.itemsize <= chunk_bytes:
        return Response(b"".join(body), media_type=media_type, headers=headers)
    length = body_length(fmt, dt, count)
    if length is not None:
        headers["Content-Length"] = str(length)
    return StreamingResponse(body, media_type=media_type, headers=headers)
