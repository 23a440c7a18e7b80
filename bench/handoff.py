"""State handoff: one HTTP call for a ready generator, then local draws at full speed.

Prints medians and ratios measured side by side in one run: the time to get a positioned
numpy-legacy RandomState at offset 10**12 through the client, and 1e7 uniforms drawn from it
locally against the same values fetched over HTTP (raw) and against a fresh local generator.

    python -m bench.handoff [--repeats 7]
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np

from bench._server import running_server
from bench._timing import median_ms
from seed_authority_client import Authority

OFFSET, N = 10**12, 10_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server())
        authority = stack.enter_context(Authority(url, chunk=N))
        stream = authority.stream("numpy-legacy", "uniform", seed=3)
        rs = authority.generator("numpy-legacy", seed=3, offset=OFFSET)
        assert np.array_equal(rs.uniform(0.0, 1.0, 1000), stream[OFFSET:OFFSET + 1000])

        t_handoff = median_ms(lambda: authority.generator("numpy-legacy", seed=3,
                                                          offset=OFFSET), args.repeats)
        positioned = authority.generator("numpy-legacy", seed=3, offset=OFFSET)
        t_local = median_ms(lambda: positioned.uniform(0.0, 1.0, N), args.repeats)
        t_fresh = median_ms(lambda: np.random.RandomState(3).uniform(0.0, 1.0, N), args.repeats)
        t_http = median_ms(lambda: stream[OFFSET:OFFSET + N], args.repeats)
    print("medians; ms for orientation only: quote the ratios")
    print(f"  ready generator at offset 10**12 (1 HTTP call + restore): {t_handoff:7.2f} ms")
    print(f"  1e7 uniforms from it, locally: {t_local:7.1f} ms "
          f"({t_local / t_fresh:.2f}x a freshly seeded local generator)")
    print(f"  the same 1e7 values over HTTP (raw): {t_http:7.1f} ms "
          f"({t_http / t_local:.2f}x the local draws)")


if __name__ == "__main__":
    main()
