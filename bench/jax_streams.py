"""jax-threefry: 1e6 values computed by the authority vs a warm jitted jax.random call.

Side by side in one run, medians of --repeats:
- core: ``app.core.jax.sampling`` (the C kernel, no HTTP) at offset 0 and 2**40, against
  ``jax.jit(lambda k: jax.random.<dist>(k, (N,)))`` called warm on this CPU (values copied
  to NumPy); the ratio is ours / JAX's.
- served: the same 1e6 values as raw bytes over HTTP from a local uvicorn (whole request),
  against the same warm local jax call.

    python -m bench.jax_streams [--repeats 9] [--no-http]

Figures: docs/jax.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import numpy as np

from app.core.jax import sampling
from app.core.jax.keys import seed_key
from bench._server import running_server
from bench._timing import median_ms

N = 1_000_000
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("bits", "uint32", {}),
    ("uniform", "float32", {}),
    ("uniform", "float32", {"minval": -3.0, "maxval": 7.5}),
    ("randint", "int32", {"minval": 0, "maxval": 1000}),
    ("normal", "float32", {}),
]


def _ours(dist: str, dtype: str, params: dict[str, Any], offset: int) -> object:
    return sampling.sample(dist, seed_key(1), offset, N, dtype, params)


def _local(dist: str, dtype: str, params: dict[str, Any]) -> Callable[[], object]:
    import jax

    call = getattr(jax.random, dist)
    key = jax.random.key(1)
    fn = jax.jit(lambda k: call(k, (N,), dtype=np.dtype(dtype), **params))
    np.asarray(fn(key))  # compile
    return lambda: np.asarray(fn(key))


def _served(client: httpx.Client, url: str, dist: str, dtype: str,
            params: dict[str, Any]) -> object:
    r = client.get(f"{url}/v1/streams/jax-threefry/{dist}",
                   params={"seed": 1, "count": N, "dtype": dtype, "format": "raw", **params})
    r.raise_for_status()
    return r.content


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--no-http", action="store_true", help="core only")
    args = ap.parse_args()
    if not sampling.jax_available():
        print("JAX is not installed (pip install '.[jax]'): nothing to compare with")
        return
    print("jax-threefry, 1e6 values; medians, ms for orientation only: quote the ratios")
    locals_ = {}
    for dist, dtype, params in CASES:
        local = _local(dist, dtype, params)
        locals_[(dist, dtype, str(params))] = local
        jax_ms = median_ms(local, args.repeats)
        for offset in (0, 2**40):
            ours = median_ms(partial(_ours, dist, dtype, params, offset), args.repeats)
            print(f"  core   {dist:8}{dtype:8}{params!s:34} offset {offset:>13}: ours "
                  f"{ours:7.2f} ms, jax.jit warm {jax_ms:7.2f} ms, ratio {ours / jax_ms:.2f}x")
    if args.no_http:
        return
    quiet = {"SEED_AUTHORITY_LOG_LEVEL": "warning"}  # no access log line per request
    with running_server(quiet) as url, httpx.Client(timeout=60) as client:
        for dist, dtype, params in CASES:
            _served(client, url, dist, dtype, params)  # warm (normal compiles here)
            local = locals_[(dist, dtype, str(params))]
            jax_ms = median_ms(local, args.repeats)
            ours = median_ms(partial(_served, client, url, dist, dtype, params), args.repeats)
            print(f"  served {dist:8}{dtype:8}{params!s:34} raw over HTTP: {ours:7.2f} ms, "
                  f"jax.jit warm {jax_ms:7.2f} ms, ratio {ours / jax_ms:.2f}x")


if __name__ == "__main__":
    main()
