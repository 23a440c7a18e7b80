"""``POST /v1/tensors/init``, ``POST /v1/modules/init`` and ``GET /v1/inits``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

import torch
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from app.api.admission import BudgetDep
from app.api.caching import cache_headers, etag_for, matches
from app.api.deps import SettingsDep
from app.api.formats import (
    MEDIA_TYPES,
    TENSOR_DESCRIPTIONS,
    TENSOR_FORMATS,
    Format,
    check_format,
    encode_tensors,
    negotiate,
    tensors_length,
)
from app.api.runs_deps import audit, run_field, sampler_seed
from app.api.tensor_stream import CHUNK
from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter, TooLarge
from app.core.inits import modules as mod
from app.core.inits import tensors as ten
from app.core.inits.args import Arg, parse_args
from app.core.versions import versions
from app.schemas import (
    ArgInfo,
    ErrorBody,
    InitInfo,
    InitsResponse,
    ModuleInfo,
    ModulesInitRequest,
    ModulesInitResponse,
    TensorFormatName,
    TensorInitRequest,
    TensorInitResponse,
)

router = APIRouter(tags=["inits"])
T = TypeVar("T")

_BINARY = {"schema": {"type": "string", "format": "binary"}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The tensors, as JSON, safetensors or .npz (format= or Accept).",
          "content": {MEDIA_TYPES[Format.safetensors]: _BINARY,
                      MEDIA_TYPES[Format.npz]: _BINARY}},
    304: {"description": "Not modified: If-None-Match holds the ETag."},
    406: {"model": ErrorBody, "description": "The Accept header names no served format."},
    413: {"model": ErrorBody, "description": "More elements than max_init_elements, more "
                                              "memory than the whole memory budget, or a "
                                              "body over max_body_bytes."},
    422: {"model": ErrorBody, "description": "A field is invalid; `parameter` names it."},
    503: {"model": ErrorBody, "description": "The memory budget stayed full for "
                                              "queue_timeout_s: retry after `Retry-After`.",
          "headers": {"Retry-After": {"description": "Seconds to wait.",
                                      "schema": {"type": "integer"}}}},
}
# Bytes besides the result that an init needs while it runs, in multiples of the result
# (orthogonal_ works on a QR factorisation: the matrix, Q, R and torch's workspace).
TEMPORARIES = {"orthogonal_": 4.0, "sparse_": 1.0}
JSON_OVERHEAD = 96 << 20  # one chunk of values as float64, as exact text, and its JSON text
FormatQuery = Annotated[TensorFormatName | None, Query(
    description="json (default), safetensors or npz; overrides the Accept header.")]
AcceptHeader = Annotated[str | None, Header(
    description="application/json, application/x-safetensors or application/x-npz.")]
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier response.")]


def _torch_call(fn: Callable[[], T], field: str) -> T:
    """Run torch on checked arguments; a combination torch still refuses is a 422 whose
    message is the first line of torch's, without C++ frames or file paths."""
    try:
        return fn()
    except (ValueError, RuntimeError, TypeError, NotImplementedError, OverflowError,
            IndexError) as exc:
        raise InvalidParameter(field, f"torch refused it: {plain(exc)}") from None


def plain(exc: BaseException) -> str:
    """The first line of an exception's message, at most 200 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split(" (Triggered internally at")[0].split("Exception raised from")[0]
    return text[:200].strip() or type(exc).__name__


def _peak_bytes(elements: int, itemsize: int, fmt: Format, temporaries: float = 0.0) -> int:
    """The estimated peak of a request: its tensors, their temporaries, and the body piece
    being serialised (for JSON up to a million values as float64, exact text and JSON)."""
    result = elements * itemsize
    body = (min(JSON_OVERHEAD, 96 * elements) if fmt == "json"
            else min(2 * CHUNK, 2 * result))
    return int(result * (1 + temporaries)) + body + (64 << 10)


def _respond(fmt: Format, etag: str, meta: dict[str, Any], tensors: Mapping[str, torch.Tensor],
             elements: int) -> Response:
    """Small bodies in one piece; larger ones streamed from the tensors' memory (never a
    serialised copy of them), with Content-Length where it is known in advance."""
    headers = {**cache_headers(etag), "X-Elements": str(elements)}
    body = encode_tensors(fmt, meta, tensors)
    if elements <= 1 << 18:
        return Response(b"".join(body), media_type=MEDIA_TYPES[fmt], headers=headers)
    length = tensors_length(fmt, meta, tensors)
    if length is not None:
        headers["Content-Length"] = str(length)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _limit(elements: int, limit: int, field: str) -> None:
    if elements > limit:
        raise TooLarge(field, f"{elements} elements in total, over the limit of {limit}")


def _documented(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {**RESPONSES, 200: {**RESPONSES[200], "model": model}}


@router.post("/v1/tensors/init", response_model=None,
             responses=_documented(TensorInitResponse),
             summary="A tensor initialised by torch.nn.init, bit-exactly")
def tensor_init(body: TensorInitRequest, settings: SettingsDep, request: Request,
                budget: BudgetDep,
                format: FormatQuery = None, accept: AcceptHeader = None,
                if_none_match: IfNoneMatch = None) -> Response:
    seed, run = sampler_seed(request, body.seed, body.run, body.allow_version_drift, None)
    audit(request, run)
    spec = ten.INITS[body.init.value]
    if any(n < 1 for n in body.shape):
        raise InvalidParameter("shape", f"every size must be >= 1, got {body.shape}")
    args = parse_args(spec.args, body.args, "args")
    ten.check_request(spec, body.shape, body.dtype, args)
    elements = math.prod(body.shape)
    _limit(elements, settings.max_init_elements, "shape")
    fmt = negotiate(format, accept, TENSOR_FORMATS)
    check_format(fmt, DTYPES[body.dtype])
    ident = {"kind": "tensor", **run_field(run), "seed": seed, "init": spec.name,
             "shape": body.shape,
             "dtype": body.dtype, "args": {k: repr(v) for k, v in args.items()}, "format": fmt}
    etag = etag_for(ident)
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=cache_headers(etag))
    need = _peak_bytes(elements, DTYPES[body.dtype].itemsize, fmt,
                       TEMPORARIES.get(spec.name, 0.0))
    with budget.reserve(need, "shape") as ticket:
        tensor = _torch_call(lambda: ten.init_tensor(spec, seed, body.shape, body.dtype, args),
                             "args")
        meta = {**run_field(run), "seed": seed, "init": spec.name, "shape": body.shape,
                "dtype": body.dtype,
                "args": args, "reference": ten.reference(spec, seed, body.shape, body.dtype,
                                                         args),
                "versions": versions()}
        return ticket.hold(_respond(fmt, etag, meta, {"tensor": tensor}, elements))


@router.post("/v1/modules/init", response_model=None,
             responses=_documented(ModulesInitResponse),
             summary="The state_dict of nn.Sequential(*modules) after torch.manual_seed(seed)")
def modules_init(body: ModulesInitRequest, settings: SettingsDep, request: Request,
                 budget: BudgetDep,
                 format: FormatQuery = None, accept: AcceptHeader = None,
                 if_none_match: IfNoneMatch = None) -> Response:
    seed, run = sampler_seed(request, body.seed, body.run, body.allow_version_drift, None)
    audit(request, run)
    layers = mod.parse_layers(body.modules)
    elements = _torch_call(lambda: mod.count_elements(layers, body.dtype), "modules")
    _limit(elements, settings.max_init_elements, "modules")
    fmt = negotiate(format, accept, TENSOR_FORMATS)
    check_format(fmt, DTYPES[body.dtype])
    ident = {"kind": "modules", **run_field(run), "seed": seed, "dtype": body.dtype, "format": fmt,
             "modules": [{"type": layer.spec.name, **{k: repr(v) for k, v in layer.args.items()}}
                         for layer in layers]}
    etag = etag_for(ident)
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=cache_headers(etag))
    # int64 buffers (BatchNorm's counter) are at most 8 bytes an element; the build holds
    # the modules' parameters once, and the state_dict shares them.
    need = _peak_bytes(elements, 8, fmt)
    with budget.reserve(need, "modules") as ticket:
        state = _torch_call(lambda: mod.build(layers, seed, body.dtype), "modules")
        meta = {**run_field(run), "seed": seed, "dtype": body.dtype,
                "modules": [{"type": layer.spec.name, **layer.args} for layer in layers],
                "reference": mod.reference(layers, seed, body.dtype), "versions": versions()}
        return ticket.hold(_respond(fmt, etag, meta, state, elements))


def _args(specs: tuple[Arg, ...]) -> list[ArgInfo]:
    return [ArgInfo(name=a.name, type=a.describe(), default=None if a.required else a.default,
                    required=a.required) for a in specs]


@router.get("/v1/inits", response_model=InitsResponse,
            summary="The init functions and module types offered, with their arguments")
def list_inits(settings: SettingsDep) -> InitsResponse:
    def dims(s: ten.InitSpec) -> str:
        if s.max_dims == s.min_dims:
            return f"exactly {s.min_dims}"
        return f"{s.min_dims}..{s.max_dims}" if s.max_dims else f">= {s.min_dims}"

    return InitsResponse(
        inits=[InitInfo(name=s.name, random=s.random, args=_args(s.args), dims=dims(s),
                        dtypes=list(s.dtypes), doc=s.doc) for s in ten.INITS.values()],
        modules=[ModuleInfo(type=s.name, args=_args(s.args), takes_dtype=s.factory)
                 for s in mod.MODULES.values()],
        formats=TENSOR_DESCRIPTIONS,
        max_elements=settings.max_init_elements,
    )
