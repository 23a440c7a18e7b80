"""1e6 float64 numpy-legacy uniforms over loopback, in each format, against local generation.

Prints medians and ratios measured side by side in one run (targets of issue 2:
raw <= 2.5x local, json <= 25x local). Usage::

    python -m bench.stream_formats [--url http://127.0.0.1:8000] [--repeats 15] [--count 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
from typing import Any

import httpx
import numpy as np
import orjson

from bench._server import running_server
from bench._timing import timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--count", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.count

    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server())
        client = stack.enter_context(httpx.Client(base_url=url, timeout=120))
        path = "/v1/streams/numpy-legacy/uniform"

        def fetch(fmt: str, seed: int, as_array: bool = False) -> Any:
            r = client.get(path, params={"seed": seed, "count": n, "format": fmt})
            r.raise_for_status()
            if fmt == "raw":
                return np.frombuffer(r.content, dtype="<f8")
            if fmt == "npy":
                return np.asarray(np.load(io.BytesIO(r.content)))
            values = orjson.loads(r.content)["values"]  # what a JSON client holds: floats
            return np.array(values, dtype=np.float64) if as_array else values

        def local(seed: int) -> np.ndarray:
            out: np.ndarray = np.random.RandomState(seed).uniform(0.0, 1.0, n)
            return out

        def naive_json(seed: int) -> np.ndarray:
            """What a plain FastAPI endpoint does: tolist + json.dumps, json.loads on the client."""
            text = json.dumps({"values": local(seed).tolist()})
            values: list[float] = json.loads(text)["values"]
            return np.array(values, dtype=np.float64)

        for fmt in ("raw", "npy", "json"):  # warm up, and check the bits once
            assert np.array_equal(fetch(fmt, 1, as_array=True), local(1)), fmt
        keys = ("local", "raw", "npy", "json", "json_array", "naive")
        times: dict[str, list[float]] = {k: [] for k in keys}
        for i in range(args.repeats):
            seed = 1000 + i
            times["local"].append(timed(local, seed))
            for fmt in ("raw", "npy", "json"):
                times[fmt].append(timed(fetch, fmt, seed))
            times["json_array"].append(timed(fetch, "json", seed, as_array=True))
            times["naive"].append(timed(naive_json, seed))

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} float64 numpy-legacy uniform values, {args.repeats} repeats, medians "
          f"(ms are for orientation only: quote the ratios)")
    print(f"  local RandomState.uniform    : {med['local'] * 1e3:8.2f} ms   1.00x")
    for fmt, target in (("raw", 2.5), ("npy", None), ("json", 25.0)):
        ratio = med[fmt] / med["local"]
        goal = f"(target <= {target}x: {'met' if ratio <= target else 'MISSED'})" if target else ""
        print(f"  http {fmt:<4} + decode           : {med[fmt] * 1e3:8.2f} ms {ratio:6.2f}x {goal}")
    print(f"  http json + decode + np.array: {med['json_array'] * 1e3:8.2f} ms "
          f"{med['json_array'] / med['local']:6.2f}x")
    print(f"  json ours / naive json (tolist+json.dumps+json.loads, no HTTP): "
          f"{med['json'] / med['naive']:.2f}x")


if __name__ == "__main__":
    main()
