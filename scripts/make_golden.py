"""Write tests/golden/streams.json: golden vectors for every registry entry.

Each vector is made by the reference call itself (tests/support/oracle.py, which calls numpy,
random and torch directly), never by the service. Run it again only on purpose: after
a deliberate change of library versions, then review the diff.

    python -m scripts.make_golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.core.dtypes import DTYPES
from app.core.registry import ENGINES
from tests.support.oracle import CORE, reference
from tests.support.strategies import GPU_ONLY, example_params

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "streams.json"
LONG = 65_536  # a multiple of 16, so torch normal's blocks line up
METHOD_LONG = 4_096
"""Values per vector of the libraries' own methods (there are many: keep the test fast)."""
HEAD = 8
SECOND: dict[str, dict[str, Any]] = {
    "geometric": {"p": 0.5}, "vonmises": {"kappa": 1e-9}, "binomial": {"n": 1000, "p": 0.7},
    "poisson": {"lam": 25.0}, "triangular": {"mode": 1.0}, "gammavariate": {"alpha": 0.5},
    "hypergeometric": {"ngood": 5, "nbad": 7, "nsample": 3},
}
"""A second parameter set that takes the sampler's other branch."""


def variants(engine: str, dist: str, dtype: str) -> list[dict[str, Any]]:
    spec = ENGINES[engine].distributions[dist]
    defaults = {p.name: p.default for p in spec.params if p.default is not None}
    if dist not in CORE:
        first = example_params(engine, dist)
        names = {p.name for p in spec.params}
        second = {**first, **{k: v for k, v in SECOND.get(dist, {}).items() if k in names}}
        try:
            spec.check(second, DTYPES[dtype])
        except Exception:
            second = first
        return [first] if second == first else [first, second]
    if dist == "integers":
        dt = DTYPES[dtype]
        high = min(int(dt.max) + 1, 2**63 - 1)
        return [{**defaults, "low": 0, "high": 100}, {**defaults, "low": int(dt.min), "high": high}]
    out: list[dict[str, Any]] = [defaults]
    try:
        extra = {**defaults, **({"low": -3.5, "high": 7.25} if dist == "uniform"
                                else {"loc": 2.5, "scale": 0.75})}
        spec.check(extra, DTYPES[dtype])
        out.append(extra)
    except Exception:  # float32 numpy streams take only the defaults
        pass
    return out


def golden_entry(engine: str, dist: str, dtype: str, seed: int,
                 params: dict[str, Any]) -> dict[str, Any]:
    n = {"python-random": LONG // 4, "torch-cuda": LONG // 16}.get(engine, LONG)
    if dist not in CORE:
        n = METHOD_LONG // 4 if engine == "python-random" else METHOD_LONG
    values = reference(engine, dist, seed, n, dtype, params)
    dt = DTYPES[dtype]
    head = dt.exact_values(values[:HEAD]).tolist()
    return {
        "engine": engine, "distribution": dist, "dtype": dtype, "seed": seed, "params": params,
        "head": head, "n": n, "sha256": hashlib.sha256(values.tobytes()).hexdigest(),
    }


def main() -> None:
    entries = []
    for engine in ENGINES.values():
        seeds = [0, 7, engine.seed_max]
        for dist in engine.distributions.values():
            if (engine.name, dist.name) in GPU_ONLY:
                continue
            for dtype in dist.dtypes:
                for params in variants(engine.name, dist.name, dtype):
                    for seed in seeds:
                        entries.append(golden_entry(engine.name, dist.name, dtype, seed, params))
    doc = {
        "made_with": {"numpy": np.__version__, "torch": torch.__version__,
                      "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "entries": entries,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(entries)} golden vectors to {OUT}")


if __name__ == "__main__":
    main()
