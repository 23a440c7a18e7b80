"""What exists: engines, their distributions, dtypes, parameters and costs.

Routes, validation, ``/v1/engines``, the golden-vector script and the tests all read
this registry, so adding an engine means adding one module under ``app.core.engines``
(a ``GeneratorEngine`` subclass, see ``app.core.spec``) and listing it in ``_ALL`` below.
"""

from __future__ import annotations

from app.core.engines import (
    numpy_generator,
    numpy_legacy,
    python_random,
    torch_cpu,
    torch_cuda,
)
from app.core.errors import UnknownName
from app.core.spec import DistributionSpec, Engine

_ALL: tuple[Engine, ...] = (
    numpy_legacy.ENGINE,
    *numpy_generator.ENGINES,
    python_random.ENGINE,
    torch_cpu.ENGINE,
    torch_cuda.ENGINE,
)
ENGINES: dict[str, Engine] = {e.name: e for e in _ALL}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(ENGINES)
        raise UnknownName("engine", f"unknown engine {name!r}; known: {known}") from None


def get_distribution(engine: Engine, name: str) -> DistributionSpec:
    try:
        return engine.distributions[name]
    except KeyError:
        known = ", ".join(engine.distributions)
        raise UnknownName(
            "distribution", f"engine {engine.name} has no distribution {name!r}; known: {known}"
        ) from None
