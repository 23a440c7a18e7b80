"""Random access and sequential consumption, server side (the core, no HTTP).

Prints medians and ratios measured side by side in one run (issue 3's targets):
1. count=1000 at offset 10**12 and 2**63 on the MT19937 engines: < 50 ms (stretch: 5 ms).
2. the jump against naive prefix regeneration at offsets 1e4..1e8 (the jump wins from ~1e5).
3. 1000 consecutive slices of 10,000 numpy-legacy normals against one local call for the
   same 10**7 values: within 1.5x.

    python -m bench.offsets [--repeats 9] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from typing import Any

import numpy as np

from app.core.streams import StreamService, resolve
from bench._timing import median_ms

FAR: list[tuple[str, str, str, dict[str, Any]]] = [
    ("numpy-legacy", "uniform", "float64", {}),
    ("numpy-mt19937", "uniform", "float64", {}),
    ("python-random", "uniform", "float64", {}),
    ("torch-cpu", "uniform", "float32", {}),
    ("torch-cpu", "normal", "float32", {}),
    ("torch-cpu", "integers", "int64", {"low": 0, "high": 1000}),
    ("numpy-pcg64", "uniform", "float32", {}),
]


def cold_slice(*args: Any, **kwargs: Any) -> np.ndarray:
    """A slice from a fresh service: no checkpoint to start from."""
    return StreamService().slice(*args, **kwargs)


def far_slices(repeats: int) -> None:
    print("1. count=1000 far into the stream, cold (a fresh service each time: no checkpoint)")
    for engine, dist, dtype, params in FAR:
        for offset, name in ((10**12, "10**12"), (2**63, "2**63")):
            ms = median_ms(partial(cold_slice, engine, dist, 1, offset, 1000, dtype, **params),
                           repeats)
            mark = "stretch met" if ms <= 5 else "met" if ms <= 50 else "MISSED"
            print(f"   {engine:14} {dist:8} {dtype:8} offset {name:7}: {ms:7.2f} ms "
                  f"(target 50 ms: {mark})")


def naive_skip(seed: int, offset: int) -> np.ndarray:
    rs = np.random.RandomState(seed)
    for start in range(0, offset, 1_000_000):
        rs.uniform(0.0, 1.0, min(1_000_000, offset - start))
    out: np.ndarray = rs.uniform(0.0, 1.0, 1000)
    return out


def jump_vs_naive(repeats: int, top: int) -> None:
    print("2. numpy-legacy uniform, 1000 values at an offset: jump vs regenerating the prefix")
    stream = resolve("numpy-legacy", "uniform", 3)
    for exp in range(4, top + 1):
        offset = 10**exp

        def jumped(offset: int = offset) -> np.ndarray:
            return stream.seek(2 * offset).draw(1000)

        assert np.array_equal(jumped(), naive_skip(3, offset))
        reps = repeats if exp <= 7 else max(3, repeats // 3)
        t_jump = median_ms(jumped, reps)
        t_naive = median_ms(partial(naive_skip, 3, offset), reps)
        t_service = median_ms(partial(cold_slice, "numpy-legacy", "uniform", 3, offset, 1000),
                              reps)
        print(f"   offset 1e{exp}: jump {t_jump:8.2f} ms, naive {t_naive:9.2f} ms, "
              f"jump/naive {t_jump / t_naive:7.3f}x; service (picks the cheaper) "
              f"{t_service:8.2f} ms")


def sequential(repeats: int) -> None:
    print("3. 1000 consecutive slices of 10,000 numpy-legacy normals vs one local call")
    ratios, memory = [], 0
    for r in range(repeats):
        seed = 100 + r
        svc = StreamService()

        def consume(svc: StreamService = svc, seed: int = seed) -> None:
            for i in range(1000):
                svc.slice("numpy-legacy", "normal", seed, i * 10_000, 10_000)

        t_local = median_ms(lambda: np.random.RandomState(seed).normal(  # noqa: B023
            0.0, 1.0, 10**7), 1)
        t_ours = median_ms(consume, 1)
        ratios.append(t_ours / t_local)
        memory = svc.cache.stats().bytes
        print(f"   run {r}: ours {t_ours:7.1f} ms, local {t_local:7.1f} ms, "
              f"ratio {t_ours / t_local:.2f}x")
    verdict = "met" if statistics.median(ratios) <= 1.5 else "MISSED"
    print(f"   median ratio {statistics.median(ratios):.2f}x (target <= 1.5x: {verdict}); "
          f"checkpoint cache after one run: {memory / 1024:.0f} KiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--quick", action="store_true", help="stop the naive runs at 1e7")
    args = ap.parse_args()
    print("medians; ms are for orientation only on a shared machine: quote the ratios")
    far_slices(args.repeats)
    jump_vs_naive(args.repeats, 7 if args.quick else 8)
    sequential(max(3, args.repeats // 3))


if __name__ == "__main__":
    main()
