"""``GET /v1/permutations/{engine}``: exact slices of a library's permutation of range(n)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from app.api.formats import DESCRIPTIONS
from app.api.index_slices import answer, responses
from app.core.permutations import (
    METHODS,
    PermutationService,
    build_bytes,
    check_window,
    output_dtype,
    resolve_permutation,
)
from app.core.registry import get_engine
from app.core.streams import parse_spawn_key
from app.schemas_shuffles import (
    PermutationEngineName,
    PermutationMethodInfo,
    PermutationQuery,
    PermutationsInfo,
    PermutationSlice,
)

router = APIRouter(tags=["permutations"])

AcceptHeader = Annotated[str | None, Header(description="application/json, application/x-npy "
                                                        "or application/octet-stream.")]
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier response: "
                                                       "answered 304.")]


def permutation_service(request: Request) -> PermutationService:
    service: PermutationService = request.app.state.permutations
    return service


@router.get(
    "/v1/permutations/{engine}",
    response_model=None,
    responses=responses(PermutationSlice, "Elements offset..offset+count-1 of the permutation"),
    summary="An exact slice of a library's permutation of range(n)",
    description=(
        "Elements offset..offset+count-1 of the permutation that the engine's reference call "
        "returns: `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` "
        "(torch-cpu), `np.random.RandomState(seed).permutation(n)` (numpy-legacy), "
        "`np.random.Generator(BitGen(seed)).permutation(n)` (numpy-pcg64 = "
        "`np.random.default_rng(seed).permutation(n)`, also Hugging Face datasets' "
        "`shuffle(seed=)`), or `random.Random(seed).shuffle(list(range(n)))` (python-random). "
        "The permutation is built once by that call, cached (memory-budgeted, LRU) and sliced."
    ),
)
def get_permutation(
    engine: Annotated[PermutationEngineName, Path(description="Engine (see /v1/permutations).")],
    query: Annotated[PermutationQuery, Query()],
    request: Request,
    accept: AcceptHeader = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    service = permutation_service(request)
    key = parse_spawn_key(query.spawn_key)
    perm = resolve_permutation(engine.value, query.n, query.seed, key, service.limits)
    offset = query.offset
    count = query.count if query.count is not None else max(perm.n - offset, 0)
    check_window(perm.n, offset, count, service.max_count)
    output_dtype(query.dtype, perm.n)

    def meta() -> dict[str, Any]:
        return {"engine": perm.engine.name, "n": perm.n, "seed": perm.seed,
                "spawn_key": list(perm.spawn_key), "draws": perm.method.draws,
                "reference": perm.reference(offset, offset + count)}

    ident = {"kind": "permutation", "engine": perm.engine.name, "n": perm.n, "seed": perm.seed,
             "spawn_key": list(perm.spawn_key)}
    return answer(ident, query.format, accept, if_none_match, query.dtype, offset, count,
                  perm.n, meta, lambda: service.slice(perm, offset, count, query.dtype),
                  service.chunk_bytes)


@router.get("/v1/permutations", response_model=PermutationsInfo,
            summary="Engines that permute, what each draws, limits and the cache")
def list_permutations(request: Request) -> PermutationsInfo:
    service = permutation_service(request)
    limits = service.limits
    infos = []
    for name, method in METHODS.items():
        perm = resolve_permutation(name, 10, 7)
        per_element = build_bytes(1, method)
        max_n = min(limits.max_n, limits.cache_bytes // per_element,
                    int(limits.max_build_ms * 1e6 / method.cost_ns(1)))
        infos.append(PermutationMethodInfo(
            engine=get_engine(name).name, reference_example=perm.reference(0, 10),
            draws=method.draws, cost_ns_per_element=method.cost_ns(1), max_n=max_n))
    return PermutationsInfo(engines=infos, limits=limits, cache=service.cache.stats(),
                            formats=DESCRIPTIONS)
