"""The reference calls of the README's table, written out directly against each library.

This is the independent oracle the service is tested against: it imports nothing from
``app`` and calls numpy, random and torch exactly as a user would, one call for n
elements. ``scripts/make_golden.py`` uses it to write the golden vectors.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from app.core.spec import Array
from tests.support import cuda_reference

BIT_GENERATORS: dict[str, type[np.random.BitGenerator]] = {
    "numpy-pcg64": np.random.PCG64,
    "numpy-pcg64dxsm": np.random.PCG64DXSM,
    "numpy-philox": np.random.Philox,
    "numpy-sfc64": np.random.SFC64,
    "numpy-mt19937": np.random.MT19937,
}


def _torch_numpy(t: torch.Tensor) -> Array:
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


CORE = ("uniform", "normal", "integers")
"""The service's own names; every other distribution is the library's method of that name."""
TORCH_METHODS: dict[str, Any] = {
    "bernoulli": lambda n, dt, p, g: torch.bernoulli(torch.full((n,), p["p"], dtype=dt),
                                                     generator=g),
    "exponential": lambda n, dt, p, g: torch.empty(n, dtype=dt).exponential_(
        lambd=p["lambd"], generator=g),
    "geometric": lambda n, dt, p, g: torch.empty(n, dtype=dt).geometric_(p["p"], generator=g),
    "log_normal": lambda n, dt, p, g: torch.empty(n, dtype=dt).log_normal_(
        mean=p["mean"], std=p["std"], generator=g),
    "cauchy": lambda n, dt, p, g: torch.empty(n, dtype=dt).cauchy_(
        median=p["median"], sigma=p["sigma"], generator=g),
    "random": lambda n, dt, p, g: torch.empty(n, dtype=dt).random_(generator=g),
}


def method_reference(engine: str, dist: str, seed: int, n: int, dtype: str,
                     params: dict[str, Any]) -> Array:
    """The library's own method called by its name with keyword parameters, n values."""
    if engine == "numpy-legacy":
        out: Array = getattr(np.random.RandomState(seed), dist)(**params, size=n)
        return out
    if engine in BIT_GENERATORS:
        rng = np.random.Generator(BIT_GENERATORS[engine](seed))
        extra = {"dtype": np.float32} if dtype == "float32" else {}
        out = getattr(rng, dist)(**params, size=n, **extra)
        return out
    if engine == "python-random":
        r = random.Random(seed)
        f = getattr(r, dist)
        return np.array([f(**params) for _ in range(n)], dtype=np.float64)
    if engine == "torch-cpu":
        g = torch.Generator().manual_seed(seed)
        return _torch_numpy(TORCH_METHODS[dist](n, getattr(torch, dtype), params, g))
    raise KeyError((engine, dist))


def reference(engine: str, dist: str, seed: int, n: int, dtype: str,
              params: dict[str, Any], start: int = 0) -> Array:
    """Elements [start, n) of the stream, from one call of the library (torch-cuda's
    independent reference computes only those: each element depends on its index alone)."""
    if engine == "torch-cuda" and dist in CORE:
        return _cuda_reference(dist, seed, n, dtype, params, start)
    return _reference(engine, dist, seed, n, dtype, params)[start:]


def _cuda_reference(dist: str, seed: int, n: int, dtype: str, p: dict[str, Any],
                    start: int) -> Array:
    wave = 256 * int(p.get("sms", 132)) * (int(p.get("threads_per_sm", 2048)) // 256)
    if dist == "uniform":
        return cuda_reference.uniform(seed, n, wave, dtype, float(p["low"]), float(p["high"]),
                                      start=start)
    if dist == "integers":
        return cuda_reference.integers(seed, n, wave, dtype, int(p["low"]), int(p["high"]),
                                       start=start)
    raise KeyError(("torch-cuda", dist))


def _reference(engine: str, dist: str, seed: int, n: int, dtype: str,
               params: dict[str, Any]) -> Array:
    p = params
    if dist not in CORE:
        return method_reference(engine, dist, seed, n, dtype, params)
    if engine == "numpy-legacy":
        rs = np.random.RandomState(seed)
        if dist == "uniform":
            return rs.uniform(p["low"], p["high"], n)
        if dist == "normal":
            return rs.normal(p["loc"], p["scale"], n)
        out: Array = rs.randint(p["low"], p["high"], n,
                                           dtype=dtype)  # type: ignore[call-overload]
        return out
    if engine in BIT_GENERATORS:
        rng = np.random.Generator(BIT_GENERATORS[engine](seed))
        if dist == "uniform":
            if dtype == "float32":
                return rng.random(n, dtype=np.float32)
            return rng.uniform(p["low"], p["high"], n)
        if dist == "normal":
            if dtype == "float32":
                return rng.standard_normal(n, dtype=np.float32)
            return rng.normal(p["loc"], p["scale"], n)
        return rng.integers(p["low"], p["high"], n, dtype=dtype)
    if engine == "python-random":
        r = random.Random(seed)
        if dist == "uniform":
            return np.array([r.uniform(p["low"], p["high"]) for _ in range(n)], dtype=np.float64)
        if dist == "normal":
            return np.array([r.gauss(p["loc"], p["scale"]) for _ in range(n)], dtype=np.float64)
        return np.array([r.randrange(p["low"], p["high"]) for _ in range(n)], dtype=np.int64)
    if engine == "torch-cpu":
        g = torch.Generator().manual_seed(seed)
        t_dtype = getattr(torch, dtype)
        if dist == "uniform":
            t = torch.empty(n, dtype=t_dtype).uniform_(p["low"], p["high"], generator=g)
        elif dist == "normal":
            m = -(-max(n, 16) // 16) * 16
            t = torch.empty(m, dtype=t_dtype).normal_(p["loc"], p["scale"], generator=g)[:n]
        else:
            t = torch.randint(p["low"], p["high"], (n,), dtype=t_dtype, generator=g)
        return _torch_numpy(t)
    raise KeyError((engine, dist))


def same_bits(a: Array, b: Array) -> bool:
    """Equal dtype, shape and bytes (so -0.0 != 0.0 and NaN payloads count)."""
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes())


def run_reference(code: str, storage: np.dtype[np.generic]) -> Array:
    """``x`` as the reference code (a response's ``reference``) makes it, as an array of the
    stream's storage dtype (bfloat16 tensors: their 16-bit patterns)."""
    scope: dict[str, Any] = {}
    exec(code, scope)
    x = scope["x"]
    if isinstance(x, torch.Tensor):
        x = x.view(torch.int16).numpy().view(np.uint16) if x.dtype == torch.bfloat16 else x.numpy()
    out: Array = np.asarray(x, dtype=storage)
    return out
