"""The torch-cuda CPU emulation against torch-cpu, side by side (server side, no HTTP).

Prints medians and the ratio for 1e6 float32 uniforms and int64 randints, at offset 0 and at
offset 2**30 (random access costs nothing extra: counter arithmetic).

    python -m bench.cuda_emulation [--repeats 9]
"""

from __future__ import annotations

import argparse
from functools import partial

from app.core.streams import StreamService
from bench._timing import median_ms

N = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    svc = StreamService()
    print("medians; ms for orientation only: quote the ratios")
    for dist, extra in (("uniform", {}), ("integers", {"low": 0, "high": 1000})):
        cpu = median_ms(partial(svc.slice, "torch-cpu", dist, 1, 0, N, None, (), **extra),
                        args.repeats)
        for offset in (0, 2**30):
            cuda = median_ms(partial(svc.slice, "torch-cuda", dist, 1, offset, N, None, (),
                                     **extra), args.repeats)
            print(f"  {dist:8} 1e6 at offset {offset:>10}: torch-cuda emulated {cuda:7.2f} ms, "
                  f"torch-cpu {cpu:7.2f} ms, ratio {cuda / cpu:.2f}x")


if __name__ == "__main__":
    main()
