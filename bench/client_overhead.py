"""What the Python client adds to a small slice: ``Authority.stream(...)[a:b]`` for 16 values
against a bare ``httpx.Client.get`` of the same URL, both on a kept-alive connection to the
service on loopback, alternating call by call, random seeds and offsets.

Target (issue 10): <= 1.3x. Usage::

    python -m bench.client_overhead [--calls 2000] [--rounds 5] [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time

import httpx
import numpy as np

from bench._server import running_server
from seed_authority_client import Authority

PATH = "/v1/streams/numpy-legacy/uniform"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(10)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server(quiet=True))
        http = stack.enter_context(httpx.Client(base_url=url))
        authority = stack.enter_context(Authority(url))

        def bare(seed: int, offset: int) -> np.ndarray:
            r = http.get(f"{PATH}?seed={seed}&offset={offset}&count=16&format=raw")
            r.raise_for_status()
            return np.frombuffer(r.content, dtype="<f8")

        def ours(seed: int, offset: int) -> np.ndarray:
            out: np.ndarray = authority.stream("numpy-legacy", "uniform", seed=seed)[
                offset:offset + 16]
            return out

        assert np.array_equal(bare(5, 7), ours(5, 7))
        ratios = []
        for r in range(args.rounds):
            t_bare: list[float] = []
            t_ours: list[float] = []
            for _ in range(args.calls):
                seed, offset = rng.randrange(2**32), rng.randrange(1000)
                for fn, times in ((bare, t_bare), (ours, t_ours)):
                    began = time.perf_counter()
                    fn(seed, offset)
                    times.append(time.perf_counter() - began)
            b, o = statistics.median(t_bare), statistics.median(t_ours)
            ratios.append(o / b)
            print(f"  round {r + 1}: httpx.get {b * 1e6:7.0f} us, Authority.stream[a:b] "
                  f"{o * 1e6:7.0f} us (medians of {args.calls}): {o / b:.2f}x")
    print(f"client / bare httpx.get: {statistics.median(ratios):.2f}x (median of rounds; "
          "target <= 1.3x)")


if __name__ == "__main__":
    main()
