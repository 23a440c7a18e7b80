"""``GET /v1/seeds``: a worker's derived seeds and the recipe that seeds everything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.runs_deps import audit, seed_or_run
from app.core.recipes import frameworks
from app.core.seeding import derivation, derived, recipe
from app.core.streams import parse_spawn_key
from app.schemas import ErrorBody, RecipeStep, SeedsResponse

router = APIRouter(tags=["seeds"])

@router.get("/v1/seeds", response_model=SeedsResponse,
            responses={422: {"model": ErrorBody, "description": "A parameter is invalid."}},
            summary="A worker's seeds, and how to seed everything with them")
def get_seeds(
    request: Request,
    seed: Annotated[int | None, Query(ge=0, lt=2**128, description="The run's seed (or run=).")]
    = None,
    spawn_key: Annotated[str | None, Query(description="The worker: comma-separated "
                                                       "non-negative integers, e.g. its rank.")]
    = None,
    run: Annotated[str | None, Query(description="A named run (PUT /v1/runs/{name}) instead "
                                                 "of seed=: its 128-bit seed.")] = None,
    allow_version_drift: Annotated[bool, Query(description="With run=: answer for a run "
                                                           "created under other library "
                                                           "versions instead of a 409.")]
    = False,
    rank: Annotated[int, Query(ge=0, lt=2**16, description="Global rank / process_index for "
                                                          "the framework recipes.")] = 0,
    worker_id: Annotated[int | None, Query(ge=0, lt=2**16, description="A DataLoader worker, "
                                                                       "for Lightning's worker "
                                                                       "recipe (with base_seed).")]
    = None,
    base_seed: Annotated[int | None, Query(ge=0, lt=2**63, description="The DataLoader's base "
                                                                      "seed (GET /v1/samplers/"
                                                                      "dataloader, or "
                                                                      "torch.initial_seed() - "
                                                                      "worker_id in a worker).")]
    = None,
) -> SeedsResponse:
    key = parse_spawn_key(spawn_key)
    the_run = seed_or_run(request, seed, run, allow_version_drift)
    if the_run is not None:
        seed = the_run.seed
        audit(request, the_run, spawn_key=key)
    assert seed is not None
    seeds = derived(seed, key, run=the_run is not None)
    made = recipe(seeds)
    return SeedsResponse(
        seed=seed,
        run=the_run.name if the_run is not None else None,
        spawn_key=list(key),
        seeds=seeds,
        framework_seeds=made.framework_seeds,
        numpy_generator=made.numpy_generator,
        recipe=[RecipeStep(code=s.code, fixes=s.fixes, costs=s.costs) for s in made.steps],
        code=made.code,
        frameworks=frameworks(seed, rank, worker_id, base_seed),
        derivation=derivation(),
    )
