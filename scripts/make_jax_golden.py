"""Write tests/golden/jax_streams.json: golden vectors of the jax-threefry streams.

Every vector is made by JAX itself (tests/support/jax_oracle.py calls jax.random directly; the
far-offset ones run JAX's transforms on the threefry2x32 primitive with the counter
started at the offset), never by the service. Run it again only on purpose, after a
deliberate change of the pinned JAX, and review the diff:

    python -m scripts.make_jax_golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from app.core.jax import sampling
from app.core.jax.keys import SEED_MAX
from tests.support import jax_oracle as jo

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "jax_streams.json"
LONG = 4096
FAR = 64
HEAD = 8
KEYS: list[dict[str, Any]] = [
    {"seed": 0}, {"seed": 7}, {"seed": 2**32 + 7}, {"seed": SEED_MAX},
    {"seed": 7, "spawn_key": [3, 5]}, {"key": [1, 2]}, {"key": [2**32 - 1, 0], "spawn_key": [9]},
]
FAR_OFFSETS = [2**32 - FAR // 2, 2**40 + 12345, 2**64 - FAR]


def variants(dist: str, dtype: str, x64: bool) -> list[dict[str, Any]]:
    if dist == "uniform":
        return [{}, {"minval": -3.5, "maxval": 7.25}, {"minval": 0.0, "maxval": 1e-36}]
    if dist == "randint":
        info = np.iinfo(dtype)
        bound = 2**63 - 1 if x64 else 2**31 - 1
        return [{"minval": 0, "maxval": 100}, {"minval": -5, "maxval": 1000003},
                {"minval": max(int(info.min), -bound - 1),
                 "maxval": min(int(info.max) + 1, bound)}]
    return [{}]


def entry(dist: str, dtype: str, x64: bool, key: dict[str, Any], params: dict[str, Any],
          offset: int) -> dict[str, Any]:
    words = tuple(key["key"]) if "key" in key else None
    ref_key = jo.make_key(key.get("seed"), x64, words, key.get("spawn_key", ()))
    if offset:
        ref_key = jo.make_key(None, x64, jo.key_words(ref_key), impl=jo.shifted(offset))
    n = FAR if offset else LONG
    values = jo.reference(dist, ref_key, n, dtype, params, x64)
    head = values[:HEAD].tolist()
    return {"distribution": dist, "dtype": dtype, "x64": x64, **key, "params": params,
            "offset": offset, "n": n, "head": head,
            "sha256": hashlib.sha256(values.tobytes()).hexdigest()}


def main() -> None:
    dists = {"bits": sampling.BITS_DTYPES, "uniform": sampling.FLOAT_DTYPES,
             "randint": sampling.INT_DTYPES, "normal": sampling.FLOAT_DTYPES}
    entries = []
    for x64 in (False, True):
        for dist, dtypes in dists.items():
            for dtype in dtypes:
                if sampling.x64_only(dtype) and not x64:
                    continue
                for params in variants(dist, dtype, x64):
                    for key in KEYS:
                        entries.append(entry(dist, dtype, x64, key, params, 0))
                    for offset in FAR_OFFSETS:
                        entries.append(entry(dist, dtype, x64, KEYS[1], params, offset))
    doc = {"made_with": {"jax": sampling.jax_version(), "numpy": np.__version__},
           "entries": entries}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(entries)} golden vectors to {OUT}")


if __name__ == "__main__":
    main()
