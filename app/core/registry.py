"""What exists: engines, their distributions, dtypes, parameters and costs.

Routes, validation, ``/v1/engines``, the golden-vector script and the tests all read
this registry, so adding an engine means adding one module under ``app.core.engines``
(a ``GeneratorEngine`` subclass, see ``app.core.spec``) and listing it in ``_ALL`` below;
or, from outside (a plugin, a test's toy engine), ``register(engine)`` before serving it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.engines import (
    jax_threefry,
    numpy_generator,
    numpy_legacy,
    python_random,
    torch_cpu,
    torch_cuda,
)
from app.core.errors import UnknownName
from app.core.spec import DistributionSpec, Engine, Param

_ALL: tuple[Engine, ...] = (
    numpy_legacy.ENGINE,
    *numpy_generator.ENGINES,
    python_random.ENGINE,
    torch_cpu.ENGINE,
    torch_cuda.ENGINE,
    jax_threefry.ENGINE,
)
ENGINES: dict[str, Engine] = {e.name: e for e in _ALL}


def register(engine: Engine) -> Engine:
    """Add an engine to the registry (at start-up, or in a test): every route, validation
    and ``/v1/engines`` serve it from then on. A name already registered is refused."""
    if engine.name in ENGINES:
        raise ValueError(f"an engine named {engine.name!r} is registered already")
    ENGINES[engine.name] = engine
    return engine


def unregister(name: str) -> Engine:
    """Remove an engine ``register`` added (its streams' checkpoints age out of the cache)."""
    return ENGINES.pop(name)


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(ENGINES)
        raise UnknownName("engine", f"unknown engine {name!r}; known: {known}") from None


def seeding_engine(role: str) -> Engine:
    """The engine whose streams a process-wide seeding call makes (``Engine.seeding``):
    ``python`` (random.seed), ``numpy`` (np.random.seed), ``torch`` (torch.manual_seed)..."""
    for engine in ENGINES.values():
        if engine.seeding is not None and engine.seeding.role == role:
            return engine
    raise LookupError(f"no engine is seeded by the {role!r} seeding call")


def get_distribution(engine: Engine, name: str) -> DistributionSpec:
    try:
        return engine.distributions[name]
    except KeyError:
        known = ", ".join(engine.distributions)
        raise UnknownName(
            "distribution", f"engine {engine.name} has no distribution {name!r}; known: {known}"
        ) from None


@dataclass(frozen=True)
class ParamUse:
    """One way a request parameter is used: by which distribution, of which engines."""

    distribution: str
    param: Param
    engines: tuple[str, ...]
    every_engine: bool
    """Whether every engine that has this distribution takes the parameter."""


def parameters(engines: Mapping[str, Engine] | None = None) -> dict[str, list[ParamUse]]:
    """Every distribution parameter name the registry declares, with its uses, in first-seen
    order: what the HTTP query model is built from."""
    engines = ENGINES if engines is None else engines
    by_dist: dict[str, list[str]] = {}
    uses: dict[tuple[str, str, Param], list[str]] = {}
    for engine in engines.values():
        for dist in engine.distributions.values():
            by_dist.setdefault(dist.name, []).append(engine.name)
            for p in dist.params:
                uses.setdefault((p.name, dist.name, p), []).append(engine.name)
    out: dict[str, list[ParamUse]] = {}
    for (name, dist_name, p), names in uses.items():
        out.setdefault(name, []).append(
            ParamUse(dist_name, p, tuple(names), len(names) == len(by_dist[dist_name])))
    return out


def distribution_names(engines: Mapping[str, Engine] | None = None) -> list[str]:
    """Every distribution name, in first-seen order."""
    engines = ENGINES if engines is None else engines
    return list(dict.fromkeys(d for e in engines.values() for d in e.distributions))
