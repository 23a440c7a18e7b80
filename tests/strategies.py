"""Hypothesis strategies over what the registry lists."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter
from app.core.registry import ENGINES

ALL_ENTRIES: list[tuple[str, str, str]] = [
    (e.name, d.name, dt) for e in ENGINES.values() for d in e.distributions.values()
    for dt in d.dtypes
]
GPU_ONLY = {("torch-cuda", "normal")}
"""Served only by an authority on a GPU (a 501 here): no CPU oracle."""
ENTRIES = [e for e in ALL_ENTRIES if e[:2] not in GPU_ONLY]
TORCH_INT_HIGH = 2**63 - 1


@st.composite
def params_for(draw: st.DrawFn, engine: str, dist: str, dtype: str) -> dict[str, Any]:
    """Parameters the service accepts for this stream, mixing defaults, small and wide ranges."""
    spec = ENGINES[engine].distributions[dist]
    dt = DTYPES[dtype]
    for _ in range(20):
        if dist == "integers":
            hi_cap = int(dt.max) + 1
            if engine == "torch-cpu":
                hi_cap = min(hi_cap, TORCH_INT_HIGH)
            lo_min = int(dt.min)
            kind = draw(st.sampled_from(["small", "pow2", "wide", "full"]))
            if kind == "small":
                low = draw(st.integers(max(lo_min, -1000), 1000))
                high = low + draw(st.integers(1, 1000))
            elif kind == "pow2":
                low = draw(st.integers(max(lo_min, -100), 100))
                high = low + 2 ** draw(st.integers(0, 20))
            elif kind == "wide":
                low = draw(st.integers(lo_min, hi_cap - 2))
                high = draw(st.integers(low + 1, hi_cap))
            else:
                low, high = lo_min, hi_cap
            p: dict[str, Any] = {"low": low, "high": high}
        elif dist == "uniform":
            if draw(st.booleans()):
                p = {"low": 0.0, "high": 1.0}
            else:
                flow = draw(st.floats(-1000, 1000))
                p = {"low": flow, "high": flow + draw(st.floats(1e-3, 1000))}
        elif draw(st.booleans()):
            p = {"loc": 0.0, "scale": 1.0}
        else:
            p = {"loc": draw(st.floats(-100, 100)), "scale": draw(st.floats(0, 10))}
        p = {**{q.name: q.default for q in spec.params if q.default is not None}, **p}
        if engine == "torch-cuda":  # small launch profiles reach past the first wave
            p["sms"] = draw(st.sampled_from([1, 4, 108, 132]))
            p["threads_per_sm"] = draw(st.sampled_from([256, 1536, 2048]))
        try:
            spec.check(p, dt)
        except InvalidParameter:
            continue
        return p
    return {q.name: q.default for q in spec.params} if dist != "integers" else {"low": 0, "high": 2}


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, str, str, int, dict[str, Any]]:
    engine, dist, dtype = draw(st.sampled_from(ENTRIES))
    seed_max = ENGINES[engine].seed_max
    seed = draw(st.one_of(st.integers(0, 2**16), st.integers(0, seed_max), st.just(seed_max)))
    return engine, dist, dtype, seed, draw(params_for(engine, dist, dtype))
