"""Hypothesis strategies over what the registry lists."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter
from app.core.methods import numpy_methods, python_methods, torch_methods
from app.core.methods.domain import P
from app.core.registry import ENGINES
from tests.support.oracle import CORE

ALL_ENTRIES: list[tuple[str, str, str]] = [
    (e.name, d.name, dt) for e in ENGINES.values() for d in e.distributions.values()
    for dt in d.dtypes
]
GPU_ONLY = {("torch-cuda", "normal")}
"""Served only by an authority on a GPU (a 501 here): no CPU oracle."""
OWN_TESTS = {"jax-threefry"}
"""Engines tested against their library in their own files (tests/api/test_jax_http.py, with
their own golden vectors): not numpy/python/torch streams, nor method distributions."""
ENTRIES = [e for e in ALL_ENTRIES if e[:2] not in GPU_ONLY and e[0] not in OWN_TESTS]
CORE_ENTRIES = [e for e in ENTRIES if e[1] in CORE]
METHOD_ENTRIES = [e for e in ENTRIES if e[1] not in CORE]
"""Distributions by the libraries' own names (app.core.methods)."""
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
    engine, dist, dtype = draw(st.sampled_from(CORE_ENTRIES))
    seed_max = ENGINES[engine].seed_max
    seed = draw(st.one_of(st.integers(0, 2**16), st.integers(0, seed_max), st.just(seed_max)))
    return engine, dist, dtype, seed, draw(params_for(engine, dist, dtype))


def declared(engine: str, dist: str) -> tuple[P, ...]:
    """The parameters of a method entry with their domains (app.core.methods tables)."""
    if engine == "numpy-legacy":
        m = numpy_methods.BY_NAME[dist]
        return m.legacy_params or m.params
    if engine.startswith("numpy-"):
        return numpy_methods.BY_NAME[dist].params
    if engine == "python-random":
        return {m.name: m for m in python_methods.METHODS}[dist].params
    return {m.name: m for m in torch_methods.METHODS}[dist].params


def example_params(engine: str, dist: str) -> dict[str, Any]:
    """Each parameter's example (or default); optional ones left out."""
    spec = ENGINES[engine].distributions[dist]
    return {p.name: p.example if p.example is not None else p.default
            for p in spec.params if p.example is not None or p.default is not None}


def _value(q: P) -> st.SearchStrategy[Any]:
    if q.kind == "int":
        return st.one_of(st.integers(0, 50), st.integers(0, 10**6), st.just(0))
    edges: dict[str, st.SearchStrategy[float]] = {
        "real": st.floats(-50, 50),
        ">0": st.one_of(st.floats(1e-3, 50), st.sampled_from([1e-6, 0.5, 1.0, 1e6])),
        ">=0": st.one_of(st.floats(0, 50), st.sampled_from([0.0, 1e-6, 1.0, 1e6])),
        "[0,1]": st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 1 / 3, 0.5])),
        "(0,1]": st.one_of(st.floats(1e-4, 1), st.sampled_from([1.0, 1 / 3, 0.999])),
        "[0,1)": st.one_of(st.floats(0, 0.9999), st.sampled_from([0.0, 0.5, 0.99])),
        "(0,1)": st.one_of(st.floats(1e-4, 0.9999), st.sampled_from([0.5, 0.01])),
        ">1": st.one_of(st.floats(1.01, 20), st.sampled_from([1.5, 3.0, 1025.0])),
        ">=1": st.one_of(st.floats(1, 20), st.just(1.0)),
        "!=0": st.one_of(st.floats(0.01, 50), st.floats(-50, -0.01)),
    }
    return edges[q.domain]


@st.composite
def method_params(draw: st.DrawFn, engine: str, dist: str, dtype: str) -> dict[str, Any]:
    """Parameters the service accepts, drawn from each parameter's domain (with edges)."""
    spec = ENGINES[engine].distributions[dist]
    ps = declared(engine, dist)
    for _ in range(20):
        p: dict[str, Any] = {}
        for q in ps:
            if q.optional and draw(st.booleans()):
                continue
            if (q.example is not None or q.default is not None) and draw(st.booleans()):
                p[q.name] = q.example if q.example is not None else q.default
            else:
                p[q.name] = draw(_value(q))
        try:
            spec.check(p, DTYPES[dtype])
        except InvalidParameter:
            continue
        return p
    return example_params(engine, dist)


@st.composite
def method_streams(draw: st.DrawFn) -> tuple[str, str, str, int, dict[str, Any]]:
    engine, dist, dtype = draw(st.sampled_from(METHOD_ENTRIES))
    seed_max = ENGINES[engine].seed_max
    seed = draw(st.one_of(st.integers(0, 2**16), st.integers(0, seed_max)))
    return engine, dist, dtype, seed, draw(method_params(engine, dist, dtype))
