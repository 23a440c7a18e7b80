"""Record what Lightning's and Accelerate's own seeding code does, for tests/golden.

The frameworks are not dependencies. This script runs their functions, taken from their
released source files, in this process with the few names they import stubbed, and writes
what the global generators hold afterwards to ``tests/golden/framework_seeds.json``;
``tests/core/test_recipes.py`` checks ``app.core.recipes`` against it.

    pip download --no-deps lightning-fabric==2.6.6 accelerate==1.15.0 -d /tmp/fw
    cd /tmp/fw && unzip -qo 'lightning_fabric-*.whl' -d lf && unzip -qo 'accelerate-*.whl' -d acc
    python -m scripts.record_framework_seeds /tmp/fw/lf/lightning_fabric/utilities/seed.py \
        /tmp/fw/acc/accelerate/utils/random.py
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import random
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "framework_seeds.json"


def _functions(path: Path, names: set[str], scope: dict[str, Any]) -> dict[str, Any]:
    """Define the named top-level functions (and the file's top-level constants) in
    ``scope``."""
    tree = ast.parse(path.read_text())
    body: list[ast.stmt] = [
        n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in names)
        or (isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant))]
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), scope)
    return scope


def _observed() -> dict[str, Any]:
    """What the global generators give right after seeding."""
    return {"torch_initial_seed": torch.initial_seed(), "python_random": random.random(),
            "numpy_randint": int(np.random.randint(0, 2**31))}


def lightning(path: Path) -> list[dict[str, Any]]:
    scope: dict[str, Any] = {
        "os": os, "random": random, "torch": torch, "log": logging.getLogger("lightning"),
        "_NUMPY_AVAILABLE": True, "Optional": Any, "Any": Any,
        "rank_zero_only": SimpleNamespace(rank=0), "_get_rank": lambda: 0,
        "rank_prefixed_message": lambda msg, rank: msg, "rank_zero_warn": print,
    }
    _functions(path, {"seed_everything", "pl_worker_init_function",
                      "_generate_seed_sequence"}, scope)
    out: list[dict[str, Any]] = []
    for seed in (0, 7, 42, 2**32 - 1):
        scope["seed_everything"](seed, workers=True, verbose=False)
        out.append({"call": "seed_everything", "seed": seed, **_observed()})
    for base_seed, worker_id, rank in [(0, 0, 0), (1234, 1, 0), (2**62 + 5, 3, 7),
                                       (9_007_199_254_740_993, 2, 1), (2**63 - 1, 0, 3)]:
        torch.manual_seed(base_seed + worker_id)  # what the DataLoader worker loop did
        scope["pl_worker_init_function"](worker_id, rank)
        out.append({"call": "pl_worker_init_function", "base_seed": base_seed,
                    "worker_id": worker_id, "rank": rank, **_observed()})
    return out


def accelerate(path: Path) -> list[dict[str, Any]]:
    state = SimpleNamespace(process_index=0)
    scope: dict[str, Any] = {
        "random": random, "np": np, "torch": torch,
        "AcceleratorState": lambda: state, "is_torch_xla_available": lambda: False,
        **{f"is_{d}_available": (lambda: False)
           for d in ("xpu", "npu", "mlu", "sdaa", "musa", "hpu", "neuron")},
    }
    _functions(path, {"set_seed"}, scope)
    out: list[dict[str, Any]] = []
    for seed, index in [(0, 0), (42, 0), (42, 3), (2**32 - 9, 8)]:
        state.process_index = index
        scope["set_seed"](seed, device_specific=True)
        out.append({"call": "set_seed", "seed": seed, "process_index": index,
                    "device_specific": True, **_observed()})
    return out


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    lightning_path, accelerate_path = (Path(p) for p in sys.argv[1:3])
    doc = {"made_with": {"lightning_fabric/utilities/seed.py": _sha(lightning_path),
                         "accelerate/utils/random.py": _sha(accelerate_path),
                         "lightning-fabric": "2.6.6", "accelerate": "1.15.0",
                         "numpy": np.__version__, "torch": torch.__version__},
           "lightning": lightning(lightning_path), "accelerate": accelerate(accelerate_path)}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
