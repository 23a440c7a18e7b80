"""On a CUDA machine: torch-cuda as served against real torch, printing mismatches.

1. The CPU emulator: for many seeds, sizes (below and beyond one launch wave), dtypes, bounds
   and integer ranges, runs the reference call on the GPU and the emulator for this GPU's
   profile (its SM count and threads per SM), and compares the values and the generator's
   offset after the call (``g.get_offset()``) with the reported increment.
2. GPU-side generation (``app.core.cuda.gpu``, normal included): slices at offsets below,
   across and far past the launch waves, served through ``set_offset``, against one reference
   call of offset + count elements from a fresh generator.

Prints a line per mismatch and the totals; exits 1 on any.

    python -m scripts.compare_cuda [--quick]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from app.core.cuda import gpu
from app.core.streams import Runtime, StreamService
from app.core.torch_dtypes import to_numpy


def reference(dist: str, dtype: str, params: dict[str, float], seed: int,
              n: int) -> tuple[np.ndarray, int]:
    """The contract's call on this GPU: a fresh generator, n elements; the values (bfloat16
    as bit patterns) and the generator's offset after the call."""
    g = torch.Generator("cuda").manual_seed(seed)
    tdt = getattr(torch, dtype)
    if dist == "uniform":
        t = torch.empty(n, dtype=tdt, device="cuda").uniform_(params["low"], params["high"],
                                                              generator=g)
    elif dist == "normal":
        t = torch.empty(n, dtype=tdt, device="cuda").normal_(params["loc"], params["scale"],
                                                             generator=g)
    else:
        t = torch.randint(int(params["low"]), int(params["high"]), (n,), dtype=tdt,
                          device="cuda", generator=g)
    return to_numpy(t.cpu()), g.get_offset()


def bytes_differing(want: np.ndarray, got: np.ndarray) -> int:
    n = len(want)
    return int(np.count_nonzero(want.view(np.uint8).reshape(n, -1)
                                != got.view(np.uint8).reshape(n, -1)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to compare")
        return 2
    device = gpu.Gpu.open(0)
    wave, profile = device.wave, {"sms": device.sms, "threads_per_sm": device.threads_per_sm}
    print(f"{device.describe()}, wave {wave}")
    sizes = [1, 12, 1000, wave - 1, wave, wave + 1, 4 * wave + 3, 9 * wave + 5]
    seeds = [0, 1, 42, 2**32 + 7, 2**64 - 1]
    if args.quick:
        sizes, seeds = sizes[:6], seeds[:3]
    total, mismatches = compare_emulator(profile, sizes, seeds)
    print(f"emulator: {total} cases, {mismatches} with mismatches")
    gpu_total, gpu_mismatches = compare_gpu_path(device, seeds[:3], args.quick)
    print(f"gpu path: {gpu_total} cases, {gpu_mismatches} with mismatches")
    return 1 if mismatches or gpu_mismatches else 0


def compare_emulator(profile: dict[str, int], sizes: list[int],
                     seeds: list[int]) -> tuple[int, int]:
    """Part 1: the CPU emulation for this GPU's profile, values and offset increments."""
    svc = StreamService()  # a CPU-only runtime: every profile emulated
    cases: list[tuple[str, str, dict[str, float]]] = [
        ("uniform", dt, {"low": lo, "high": hi}) for dt in
        ("float32", "float64", "float16", "bfloat16") for lo, hi in ((0.0, 1.0), (-3.0, 7.5))]
    cases += [("integers", dt, {"low": lo, "high": hi}) for dt, lo, hi in
              (("int64", 0, 10), ("int64", -(2**40), 2**40), ("int32", -5, 2**28 + 3),
               ("int8", -128, 128), ("uint8", 0, 256))]
    total = mismatches = 0
    for dist, dtype, params in cases:
        for seed in seeds:
            for n in sizes:
                want, torch_offset = reference(dist, dtype, params, seed, n)
                full = {**params, **profile}
                got = svc.slice("torch-cuda", dist, seed, 0, n, dtype, (), **full)
                bad = bytes_differing(want, got)
                call = svc.resolve("torch-cuda", dist, seed, dtype, full).call_info(n)
                assert call is not None
                step = call.facts["cuda_offset_increment"]
                if step != torch_offset:
                    print(f"OFFSET {dist} {dtype} n={n}: torch {torch_offset}, ours {step}")
                    bad += 1
                total += 1
                mismatches += bad > 0
                if bad:
                    print(f"MISMATCH {dist} {dtype} {params} seed={seed} n={n}: {bad} bytes")
    return total, mismatches


def compare_gpu_path(device: gpu.Gpu, seeds: list[int], quick: bool) -> tuple[int, int]:
    """Part 2: slices generated on the GPU (set_offset), against one call from offset 0."""
    wave = device.wave
    svc = StreamService(runtime=Runtime(device))
    cases: list[tuple[str, str, dict[str, float]]] = [
        ("normal", dt, {"loc": 0.0, "scale": 1.0}) for dt in
        ("float32", "float64", "float16", "bfloat16")]
    cases += [("normal", "float32", {"loc": -2.5, "scale": 3.0}),
              ("uniform", "float32", {"low": 0.0, "high": 1.0}),
              ("uniform", "float64", {"low": -3.0, "high": 7.5}),
              ("integers", "int64", {"low": 0, "high": 10}),
              ("integers", "int64", {"low": -(2**40), "high": 2**40})]
    windows = [(0, 12), (4 * wave - 7, 20), (2 * wave + 5, 3 * wave), (0, 9 * wave + 5),
               (10**7 + 3, 1000)]
    if not quick:
        windows.append((10**8 + 1, 5 * wave))
    total = mismatches = 0
    for dist, dtype, params in cases:
        for seed in seeds:
            for offset, count in windows:
                want = reference(dist, dtype, params, seed, offset + count)[0][offset:]
                full = {**params, "sms": device.sms, "threads_per_sm": device.threads_per_sm}
                got = svc.slice("torch-cuda", dist, seed, offset, count, dtype, (), **full)
                bad = bytes_differing(want, got)
                total += 1
                mismatches += bad > 0
                if bad:
                    print(f"GPU PATH MISMATCH {dist} {dtype} {params} seed={seed} "
                          f"offset={offset} count={count}: {bad} bytes")
    return total, mismatches


if __name__ == "__main__":
    sys.exit(main())
