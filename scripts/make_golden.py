"""Write tests/golden/streams.json: golden vectors for every registry entry.

Each vector is made by the reference call itself (tests/oracle.py, which calls numpy,
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
from tests.oracle import reference
from tests.strategies import GPU_ONLY

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "streams.json"
LONG = 65_536  # a multiple of 16, so torch normal's blocks line up
HEAD = 8


def variants(engine: str, dist: str, dtype: str) -> list[dict[str, Any]]:
    spec = ENGINES[engine].distributions[dist]
    defaults = {p.name: p.default for p in spec.params if p.default is not None}
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
