"""torch-cuda served server side (no HTTP), side by side with local generation.

CPU emulation against torch-cpu: medians and the ratio for 1e6 float32 uniforms and int64
randints, at offset 0 and at offset 2**30 (random access costs nothing extra: counter
arithmetic). On a machine with CUDA, also the GPU path (``app.core.cuda.gpu``: set_offset and
whole unrolled waves) against one local CUDA call of the same size copied to the host, for
uniform, normal and integers at offsets 0 and 2**30.

    python -m bench.cuda_emulation [--repeats 9]
"""

from __future__ import annotations

import argparse
from functools import partial

import torch

from app.core.cuda import gpu
from app.core.streams import Runtime, StreamService
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
    if not torch.cuda.is_available():
        print("no CUDA here: the GPU path is not measured")
        return
    device = gpu.Gpu.open(0)
    on_gpu = StreamService(runtime=Runtime(device))
    profile = {"sms": device.sms, "threads_per_sm": device.threads_per_sm}
    print(f"GPU path on {device.describe()}")
    for dist, extra in (("uniform", {}), ("normal", {}), ("integers", {"low": 0, "high": 1000})):
        local = median_ms(partial(_local_cuda, dist, N), args.repeats)
        for offset in (0, 2**30):
            ours = median_ms(partial(on_gpu.slice, "torch-cuda", dist, 1, offset, N, None, (),
                                     **extra, **profile), args.repeats)
            print(f"  {dist:8} 1e6 at offset {offset:>10}: GPU path {ours:7.2f} ms, local "
                  f"CUDA call + copy {local:7.2f} ms, ratio {ours / local:.2f}x")


def _local_cuda(dist: str, n: int) -> object:
    g = torch.Generator("cuda").manual_seed(1)
    if dist == "integers":
        t = torch.randint(0, 1000, (n,), device="cuda", generator=g)
    else:
        t = torch.empty(n, device="cuda")
        t = t.uniform_(generator=g) if dist == "uniform" else t.normal_(generator=g)
    return t.cpu().numpy()


if __name__ == "__main__":
    main()
