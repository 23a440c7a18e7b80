"""``GET /v1/states/{engine}/{distribution}``: the generator state at an offset, to go on
locally at full speed after one HTTP call."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from app.api.caching import cache_headers, etag_for, matches
from app.api.deps import ServiceDep
from app.api.runs_deps import audit, stream_for
from app.core.errors import InvalidParameter
from app.core.streams import Stream
from app.core.versions import versions
from app.schemas import (
    DISTRIBUTIONS_DOC,
    DistributionName,
    EngineName,
    ErrorBody,
    StateQuery,
    StateResponse,
)

router = APIRouter(prefix="/v1/states", tags=["states"])


def continue_code(stream: Stream, skip: int) -> str:
    """Python that draws on from the restored generator, dropping the elements before offset."""
    call = stream.dist.call(stream.params, stream.dtype, "n")
    note = "a multiple of 16 (at least 16): " if stream.dist.block > 1 else ""
    drop = f"[{skip}:]" if skip else ""
    return (f"n = 1000  # elements to draw from block_start on; {note}your choice\n"
            f"x = {call}{drop}\n")


@router.get(
    "/{engine}/{distribution}",
    response_model=StateResponse,
    responses={
        200: {"content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}},
            "description": "JSON, or with format=raw (engines whose state is bytes) the "
                           "state bytes."},
        304: {"description": "Not modified."},
        422: {"model": ErrorBody, "description": "A parameter is invalid; `parameter` names it."},
        501: {"model": ErrorBody, "description": "A stream that needs hardware this authority "
                                                  "lacks (a GPU): not reproducible here."},
        503: {"model": ErrorBody, "description": "The stream drifted from its known answers "
                                                  "on this server (see /readyz), or the device "
                                                  "that makes it is out of memory for now."},
    },
    summary="The generator state from which the library continues the stream at offset",
)
def get_state(
    engine: Annotated[EngineName, Path(description="Engine (see /v1/engines).")],
    distribution: Annotated[DistributionName, Path(description=DISTRIBUTIONS_DOC)],
    query: Annotated[StateQuery, Query()],
    service: ServiceDep,
    request: Request,
    if_none_match: Annotated[str | None, Header(description="An earlier ETag.")] = None,
) -> Any:
    stream, run = stream_for(request, query, engine, distribution)
    audit(request, run, spawn_key=query.spawn_key, offset=query.offset)
    service.check_window(query.offset, 0)
    fmt = query.format or "json"
    state_spec = stream.engine.state
    if fmt == "raw" and (state_spec is None or not state_spec.binary):
        raise InvalidParameter("format", f"{stream.engine.name}'s state is not bytes (raw is "
                                         "for engines whose state is); use json")
    etag = etag_for({"kind": "state", "engine": stream.engine.name,
                     "distribution": stream.dist.name, "dtype": stream.dtype.name,
                     "params": {k: repr(v) for k, v in stream.params.items()},
                     "seed": stream.seed, "spawn_key": list(stream.spawn_key),
                     "offset": query.offset, "format": fmt,
                     **({"run": run.name} if run is not None else {})})
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=cache_headers(etag))
    state, start = service.state_at(stream, query.offset)
    skip = query.offset - start
    headers = {**cache_headers(etag), "X-Block-Start": str(start), "X-Skip": str(skip)}
    if fmt == "raw":
        assert state_spec is not None
        return Response(state_spec.raw(state), media_type="application/octet-stream",
                        headers=headers)
    body = StateResponse.model_validate({
        "engine": stream.engine.name, "distribution": stream.dist.name, "seed": stream.seed,
        "run": run.name if run is not None else None,
        "spawn_key": list(stream.spawn_key), "offset": query.offset, "block_start": start,
        "skip": skip, "dtype": stream.dtype.name, "params": dict(stream.params), "state": state,
        "state_kind": state_spec.kind if state_spec else None,
        "restore": stream.engine.restore_code(),
        "continue": continue_code(stream, skip),
        "versions": versions(),
    })
    return JSONResponse(body.model_dump(mode="json", by_alias=True), headers=headers)
