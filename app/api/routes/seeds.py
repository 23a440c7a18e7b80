"""``GET /v1/seeds``: a worker's derived seeds and the recipe that seeds everything."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.api.runs_deps import audit, seed_or_run
from app.core.errors import InvalidParameter
from app.core.recipes import frameworks
from app.core.registry import ENGINES
from app.core.runs import engine_seed
from app.core.streams import parse_spawn_key
from app.schemas import ErrorBody, SeedsResponse

router = APIRouter(tags=["seeds"])

RECIPE: list[tuple[str, str, str]] = [
    ("random.seed({python})", "Python's random module (and libraries that use it).",
     "None."),
    ("np.random.seed({legacy})", "NumPy's legacy global generator (np.random.*).",
     "None; code using np.random.default_rng needs the Generator seed instead."),
    ("torch.manual_seed({torch})", "torch's CPU generator and every CUDA device's.",
     "None."),
    ("torch.cuda.manual_seed_all({torch})", "Every CUDA device's generator (already done by "
     "torch.manual_seed; explicit for code that reseeds CUDA alone).", "None."),
    ("torch.backends.cudnn.deterministic = True", "cuDNN picks deterministic convolution "
     "algorithms.", "Convolutions can be slower."),
    ("torch.backends.cudnn.benchmark = False", "cuDNN stops timing algorithms per shape and "
     "picking the fastest, a choice that can differ between runs.", "Lose the autotuned "
     "speed-up for fixed shapes."),
    ("torch.use_deterministic_algorithms(True)", "torch raises an error on any op without a "
     "deterministic implementation, instead of running a nondeterministic one.",
     "Some ops fail (index_add_, scatter_add_ on CUDA...) and others get slower."),
    ('os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"', "cuBLAS (CUDA >= 10.2) reductions "
     "use a fixed workspace and become deterministic; required by use_deterministic_algorithms "
     "on CUDA. Set before the first CUDA call.", "About 24 MiB more GPU memory per stream."),
    ('os.environ["PYTHONHASHSEED"] = "{hashseed}"', "str/bytes hash order (set iteration, "
     "some dict-based code) in Python processes started after this, e.g. data-loader workers "
     "with spawn; the running interpreter read it at start-up.", "None; must be in the "
     "environment before a process starts to affect it."),
]


def derived(seed: int, spawn_key: tuple[int, ...], run: bool = False) -> dict[str, Any]:
    """Per engine, the seed its generator gets; ``run``: ``seed`` is a run's 128-bit seed,
    from which narrower engines derive theirs even with no spawn key."""
    out: dict[str, Any] = {}
    for engine in ENGINES.values():
        seed_e, key = engine_seed(engine, seed, spawn_key) if run else (seed, spawn_key)
        if key and engine.spawn_rule is not None:  # the engine's own key derivation
            out[engine.name] = engine.seed_expr(seed_e, key) if seed_e <= engine.seed_max \
                else None
            continue
        value = engine.generator_seed(seed_e, key)
        if not isinstance(value, int):
            out[engine.name] = engine.seed_expr(seed_e, key)
        elif value > engine.seed_max:
            out[engine.name] = None
        else:
            out[engine.name] = value
    return out


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
) -> dict[str, Any]:
    key = parse_spawn_key(spawn_key)
    the_run = seed_or_run(request, seed, run, allow_version_drift)
    if the_run is not None:
        seed = the_run.seed
        audit(request, the_run, spawn_key=key)
    assert seed is not None
    seeds = derived(seed, key, run=the_run is not None)
    for name in ("numpy-legacy", "python-random", "torch-cpu"):
        if seeds[name] is None:
            raise InvalidParameter("seed", f"{name} takes seeds up to {ENGINES[name].seed_max}; "
                                           "give a spawn_key to derive one")
    values = {"python": seeds["python-random"], "legacy": seeds["numpy-legacy"],
              "torch": seeds["torch-cpu"], "hashseed": seeds["numpy-legacy"]}
    steps = [{"code": code.format(**values), "fixes": fixes, "costs": costs}
             for code, fixes, costs in RECIPE]
    code = "\n".join(["import os", "import random", "import numpy as np", "import torch",
                      *(s["code"] for s in steps)])
    return {
        "seed": seed,
        **({"run": the_run.name} if the_run is not None else {}),
        "spawn_key": list(key),
        "seeds": seeds,
        "numpy_generator": f"np.random.default_rng({seeds['numpy-pcg64']})",
        "recipe": steps,
        "code": code + "\n",
        "frameworks": frameworks(seed, rank, worker_id, base_seed),
        "derivation": "numpy Generator engines: SeedSequence(seed, spawn_key); numpy-legacy: "
                      "SeedSequence(seed, spawn_key).generate_state(1, np.uint32)[0]; "
                      "python-random and torch-cpu: .generate_state(1, np.uint64)[0]; with no "
                      "spawn_key, the seed itself, but with run= derived the same way (with an "
                      "empty spawn key) from the run's 128-bit seed. Engines with their own spawn "
                      "rule (jax-threefry: jax.random.fold_in per spawn_key entry) apply it to "
                      "their key, from the seed (with run=: SeedSequence(run_seed)"
                      ".generate_state(1, np.uint64)[0] >> 1).",
    }
