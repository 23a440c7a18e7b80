"""Against a real uvicorn process: streamed large bodies and concurrent clients."""

from __future__ import annotations

import io
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from tests.support.oracle import reference, same_bits


def test_large_binary_bodies_stream_with_exact_length(live_server: str) -> None:
    n = 2_000_000
    expected = reference("numpy-legacy", "uniform", 9, n, "float64", {"low": 0.0, "high": 1.0})
    with httpx.Client(base_url=live_server, timeout=60) as c:
        raw = c.get("/v1/streams/numpy-legacy/uniform",
                    params={"seed": 9, "count": n, "format": "raw"})
        assert raw.headers["content-length"] == str(8 * n)
        assert same_bits(np.frombuffer(raw.content, dtype="<f8"), expected)
        npy = c.get("/v1/streams/numpy-legacy/uniform",
                    params={"seed": 9, "count": n, "format": "npy"})
        assert int(npy.headers["content-length"]) == len(npy.content)
        assert same_bits(np.load(io.BytesIO(npy.content)), expected)
        js = c.get("/v1/streams/numpy-legacy/uniform", params={"seed": 9, "count": 300_000})
        assert same_bits(np.array(js.json()["values"]), expected[:300_000])


STREAMS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("numpy-legacy", "normal", "float64", {"loc": 0.0, "scale": 1.0}),
    ("torch-cpu", "normal", "float32", {"loc": 0.0, "scale": 1.0}),
    ("python-random", "normal", "float64", {"loc": 0.0, "scale": 1.0}),
    ("numpy-philox", "integers", "int32", {"low": 0, "high": 1000}),
]
SPAN = 40_000


def test_concurrent_clients_get_sequential_bits(live_server: str) -> None:
    expected = {(e, d): reference(e, d, 21, SPAN, dt, p) for e, d, dt, p in STREAMS}

    rnd = random.Random(0)
    jobs = []
    for _ in range(160):
        e, d, dt, p = rnd.choice(STREAMS)
        off = rnd.randrange(0, SPAN - 1)
        jobs.append((e, d, dt, p, off, rnd.randrange(1, min(3000, SPAN - off))))

    def fetch(job: tuple[str, str, str, dict[str, Any], int, int]) -> bool:
        e, d, dt, p, off, n = job
        with httpx.Client(base_url=live_server, timeout=60) as c:
            r = c.get(f"/v1/streams/{e}/{d}", params={"seed": 21, "offset": off, "count": n,
                                                      "dtype": dt, "format": "npy", **p})
        want = expected[(e, d)][off:off + n]
        return same_bits(np.load(io.BytesIO(r.content)), want)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(fetch, jobs))
    assert all(results), f"{results.count(False)} of {len(results)} slices differ"
