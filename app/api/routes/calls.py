"""``POST /v1/calls`` (replay a seeded program of library calls) and ``GET /v1/calls``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import torch
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse

from app.api.admission import BudgetDep
from app.api.deps import SettingsDep
from app.api.formats import (
    MEDIA_TYPES,
    TENSOR_FORMATS,
    Format,
    check_format,
    encode_tensors,
    json_head,
    negotiate,
    tensor_values,
)
from app.core.calls import MAX_CALLS, Program, parse_program
from app.core.calls_whitelist import CALL_ENGINES, REFUSED
from app.core.dtypes import DTYPES
from app.core.inits.args import REQUIRED
from app.core.torch_dtypes import dtype_of
from app.core.versions import versions
from app.schemas import ErrorBody
from app.schemas_calls import (
    CallEngineInfo,
    CallFnInfo,
    CallParamInfo,
    CallsInfoResponse,
    CallsRequest,
    CallsResponse,
)

router = APIRouter(tags=["calls"])
FORMATS: dict[str, str] = {
    "json": "application/json: engine, seed, the reference program, versions and `results`: "
            "per selected call its index, name, call, shape, dtype and values (flattened, "
            "floats printed exactly).",
    "npz": "application/x-npz: np.load(io.BytesIO(body))['r<index>'] per result (not for "
           "bfloat16).",
    "safetensors": "application/x-safetensors: safetensors.torch.load(body)['r<index>'] per "
                   "result; the metadata holds engine, seed, reference and versions.",
}

_BINARY = {"schema": {"type": "string", "format": "binary"}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Each selected call's result: JSON (CallsResponse), or npz / "
                         "safetensors with one array `r<index>` per result (format= or Accept).",
          "model": CallsResponse,
          "content": {MEDIA_TYPES[Format.safetensors]: _BINARY,
                      MEDIA_TYPES[Format.npz]: _BINARY}},
    406: {"model": ErrorBody, "description": "The Accept header names no served format."},
    413: {"model": ErrorBody, "description": "The program makes more than max_call_elements "
                                             "elements (`parameter` names the call past it), "
                                             "or needs more than the whole memory budget."},
    503: {"model": ErrorBody, "description": "The memory budget stayed full for "
                                             "queue_timeout_s: retry after `Retry-After`.",
          "headers": {"Retry-After": {"description": "Seconds to wait.",
                                      "schema": {"type": "integer"}}}},
    422: {"model": ErrorBody, "description": "A call the whitelist refuses, or an argument the "
                                             "library refuses; `parameter` names the call "
                                             "(`calls[2].args[1]`) and `message` the reason."},
}
FormatQuery = Annotated[str | None, Query(
    pattern="^(json|npz|safetensors)$",
    description="json (default), npz or safetensors; overrides the Accept header.")]
AcceptHeader = Annotated[str | None, Header(
    description="application/json, application/x-npz or application/x-safetensors.")]


@router.post("/v1/calls", response_model=None, responses=RESPONSES,
             summary="Replay a seeded program of numpy / random / torch calls, exactly")
def replay(body: CallsRequest, settings: SettingsDep, budget: BudgetDep,
           format: FormatQuery = None, accept: AcceptHeader = None) -> Response:
    program = parse_program(body.engine, body.seed, [c.model_dump() for c in body.calls],
                            body.results, settings.max_call_elements)
    fmt = negotiate(format, accept, TENSOR_FORMATS)
    # The results (at most 8 bytes an element) plus the body piece being serialised.
    need = 8 * program.work + min(96 << 20, 96 * program.work) + (64 << 10)
    with budget.reserve(need, "calls") as ticket:
        results = program.run()
        if any(t.dtype == torch.bfloat16 for t in results.values()):
            check_format(fmt, DTYPES["bfloat16"])
        meta = {"engine": program.engine.name, "seed": program.seed,
                "reference": program.reference(), "versions": versions()}
        headers = {"X-Calls": str(len(program.calls)), "X-Work": str(program.work)}
        elements = sum(t.numel() for t in results.values())
        if fmt is Format.json:
            chunks = _json(program, meta, results)
        else:
            chunks = encode_tensors(fmt, meta,
                                    {program.calls[i].name: t for i, t in results.items()})
        if elements > 1 << 18:
            return ticket.hold(StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt],
                                                 headers=headers))
        return Response(b"".join(chunks), media_type=MEDIA_TYPES[fmt], headers=headers)


def _json(program: Program, meta: dict[str, Any],
          results: Mapping[int, torch.Tensor]) -> Iterator[bytes | memoryview]:
    yield json_head(meta, "results") + b"["
    for n, (index, t) in enumerate(results.items()):
        call = program.calls[index]
        info = {"index": index, "name": call.name, "call": call.source(program.engine.prefix),
                "shape": list(t.shape), "dtype": dtype_of(t).name}
        text = json.dumps(info, separators=(",", ":"))
        yield (b"," if n else b"") + text[:-1].encode() + b',"values":'
        yield from tensor_values(t)
        yield b"}"
    yield b"]}"


@router.get("/v1/calls", response_model=CallsInfoResponse,
            summary="The functions POST /v1/calls replays, per engine, with their arguments")
def list_calls(settings: SettingsDep) -> CallsInfoResponse:
    return CallsInfoResponse(
        engines=[CallEngineInfo(
            name=e.name, seed_max=e.seed_max, doc=e.doc,
            program=f"{e.setup.format(seed='seed')}\nr0 = {e.prefix}<fn>(...)",
            functions=[CallFnInfo(
                name=fn.name, varargs=fn.varargs, weight=fn.weight, returns=fn.returns,
                params=[CallParamInfo(name=p.name, type=p.describe(), required=p.required,
                                      default=None if p.default is REQUIRED else p.default)
                        for p in fn.params])
                for fn in e.functions.values()])
            for e in CALL_ENGINES.values()],
        refused=dict(REFUSED),
        formats=FORMATS,
        max_call_elements=settings.max_call_elements,
        max_calls=MAX_CALLS,
    )
