"""Hypothesis strategies and comparisons shared by the jax-threefry tests (core and HTTP)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from app.core.errors import InvalidParameter
from app.core.jax import sampling
from app.core.jax.keys import WORD_MAX

DEEP = int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "0"))
SPAWN = st.lists(st.integers(0, WORD_MAX), max_size=3)


def bitwise(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Same dtype, shape and bytes (floats compared bit for bit, -0.0 included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@st.composite
def uniform_bounds(draw: st.DrawFn, dtype: str) -> dict[str, float]:
    kind = draw(st.sampled_from(["default", "small", "wide", "tiny"]))
    if kind == "default":
        return {}
    if kind == "tiny":  # near the smallest normal: results that XLA:CPU flushes to zero
        tiny = float(np.finfo(dtype).smallest_normal)
        lo = draw(st.floats(-64 * tiny, 64 * tiny))
        bounds = {"minval": lo, "maxval": lo + draw(st.floats(tiny, 128 * tiny))}
    else:
        top = 1e3 if kind == "small" else (1e37 if dtype == "float32" else 1e300)
        lo = draw(st.floats(-top, top))
        bounds = {"minval": lo, "maxval": draw(st.floats(lo, top).filter(lambda h: h > lo))}
    try:  # bounds the service refuses (subnormal in the dtype, an overflowing span)
        sampling.check_uniform(bounds["minval"], bounds["maxval"], dtype)
    except InvalidParameter:
        assume(False)
    return bounds


@st.composite
def randint_bounds(draw: st.DrawFn, dtype: str, x64: bool) -> dict[str, int]:
    bound = 2**63 if x64 else 2**31
    info = np.iinfo(dtype)
    kind = draw(st.sampled_from(["small", "pow2", "dtype", "any"]))
    if kind == "small":
        lo = draw(st.integers(-1000, 1000))
        hi = lo + draw(st.integers(-3, 1000))
    elif kind == "pow2":
        lo = draw(st.integers(-100, 100))
        hi = lo + 2 ** draw(st.integers(0, info.bits))
    elif kind == "dtype":
        lo, hi = int(info.min), int(info.max) + 1
    else:
        lo, hi = draw(st.integers(-bound, bound - 1)), draw(st.integers(-bound, bound - 1))
    return {"minval": max(-bound, min(lo, bound - 1)), "maxval": max(-bound, min(hi, bound - 1))}


DISTS = {"bits": sampling.BITS_DTYPES, "uniform": sampling.FLOAT_DTYPES,
         "randint": sampling.INT_DTYPES, "normal": sampling.FLOAT_DTYPES}
