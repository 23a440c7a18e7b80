"""jax-threefry core against committed golden vectors (made by scripts/make_jax_golden.py
with JAX itself). Runs without JAX, but for normal (which needs JAX at run time)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.jax import sampling
from app.core.jax.keys import Key, seed_key

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "jax_streams.json").read_text())


def _key(e: dict[str, Any]) -> Key:
    key = Key(*e["key"]) if "key" in e else seed_key(e["seed"], e["x64"])
    return key.fold(e.get("spawn_key", []))


def _values(e: dict[str, Any], start: int, n: int) -> np.ndarray[Any, Any]:
    key, dist, dtype, p = _key(e), e["distribution"], e["dtype"], e["params"]
    at = e["offset"] + start
    if dist == "bits":
        return sampling.bits(key, at, n, dtype)
    if dist == "uniform":
        return sampling.uniform(key, at, n, dtype, **p)
    if dist == "randint":
        return sampling.randint(key, at, n, sampling.randint_plan(p["minval"], p["maxval"],
                                                                   dtype, e["x64"]))
    return sampling.normal(key, at, n, dtype)


def test_golden_vectors_cover_every_distribution_and_dtype() -> None:
    covered = {(e["distribution"], e["dtype"]) for e in GOLDEN["entries"]}
    expected = {(d, t) for d, ts in (("bits", sampling.BITS_DTYPES),
                                     ("uniform", sampling.FLOAT_DTYPES),
                                     ("randint", sampling.INT_DTYPES),
                                     ("normal", sampling.FLOAT_DTYPES)) for t in ts}
    assert covered == expected
    assert any(e["offset"] >= 2**64 - e["n"] for e in GOLDEN["entries"])


@pytest.mark.parametrize("entry", GOLDEN["entries"],
                         ids=lambda e: f"{e['distribution']}-{e['dtype']}-x64={e['x64']}-"
                                       f"{e.get('seed', e.get('key'))}-{e['offset']}")
def test_golden_vector(entry: dict[str, Any]) -> None:
    if entry["distribution"] == "normal" and not sampling.jax_available():
        pytest.skip("normal needs JAX installed")
    n = entry["n"]
    # in two slices, so the golden run also checks the join
    values = np.concatenate([_values(entry, 0, n // 3), _values(entry, n // 3, n - n // 3)])
    assert values[:len(entry["head"])].tolist() == entry["head"]
    assert hashlib.sha256(values.tobytes()).hexdigest() == entry["sha256"]
