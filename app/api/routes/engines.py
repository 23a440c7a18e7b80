"""``GET /v1/engines``: what the registry offers, with limits, cache and versions."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServiceDep
from app.api.formats import DESCRIPTIONS
from app.core.dtypes import DTYPES
from app.core.registry import ENGINES
from app.core.spec import DistributionSpec, Engine
from app.core.streams import MAX_OFFSET, Limits
from app.core.versions import versions
from app.schemas import DistributionInfo, EngineInfo, EnginesResponse, ParamInfo, Versions

router = APIRouter(tags=["engines"])


def _distribution(engine: Engine, dist: DistributionSpec, limits: Limits) -> DistributionInfo:
    example = {p.name: p.sample for p in dist.params if not p.optional}
    access = engine.offset_access(dist)
    reach = int(limits.max_skip_ms * 1e6 / dist.cost_ns)
    reach = MAX_OFFSET if access == "direct" else reach - reach % dist.block
    if engine.max_reference is not None:
        reach = min(reach, engine.max_reference - 1)
    return DistributionInfo(
        name=dist.name,
        dtypes=list(dist.dtypes),
        default_dtype=dist.default_dtype,
        refused_dtypes=dict(dist.refused_dtypes),
        params=[ParamInfo(name=p.name, type=p.kind, default=p.default,
                          required=p.default is None and not p.optional, doc=p.doc,
                          example=None if p.optional else p.sample)
                for p in dist.params],
        block=dist.block,
        access=access,
        access_by_dtype=dict.fromkeys(dist.dtypes, access),
        cost_ns_per_element=dist.cost_ns,
        max_cold_offset=reach,
        reference_example=engine.reference(dist, example, DTYPES[dist.default_dtype], 7, 0, 3),
        notes=dist.notes,
    )


@router.get("/v1/engines", response_model=EnginesResponse,
            summary="Engines, distributions, dtypes, parameters, limits and versions")
def list_engines(service: ServiceDep) -> EnginesResponse:
    limits = service.limits
    return EnginesResponse(
        engines=[
            EngineInfo(
                name=e.name, library=e.library, bit_generator=e.bit_generator, seed_min=0,
                seed_max=e.seed_max, generator=e.setup.format(seed="seed"),
                jump=e.access.doc, jump_cost_ms=e.access.cost_ns(MAX_OFFSET) / 1e6, doc=e.doc,
                devices={k: dict(v) for k, v in e.devices.profiles.items()} if e.devices else {},
                generated_on=e.generated_on(service.runtime),
                distributions=[_distribution(e, d, limits) for d in e.distributions.values()],
                refused=dict(e.refused),
            )
            for e in ENGINES.values()
        ],
        formats=DESCRIPTIONS,
        limits=limits,
        cache=service.cache.stats(),
        versions=Versions(**versions()),
    )
