"""A model CUDA device for tests: ``Gpu.call`` (one local torch call of n elements at a
generator offset) computed by the independent reference (tests/support/cuda_reference.py, with
torch's launch grid for n and Philox counter offset/4 + k), checking torch's preconditions;
and ``using`` to give an app's streams a device (or none), whatever this machine has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.cuda.gpu import Gpu
from app.core.engines.torch_cuda import wave
from app.core.spec import Array, Params
from app.core.streams import Runtime, StreamService
from tests.support import cuda_reference


@dataclass(frozen=True)
class ModelGpu(Gpu):
    calls: list[tuple[int, int]] = field(default_factory=list, compare=False)

    def call(self, seed: int, philox_offset: int, n: int, dist: str, dtype: str,
             p: Params) -> torch.Tensor:
        assert philox_offset % 4 == 0, "torch: offset must be a multiple of 4"
        self.calls.append((philox_offset, n))
        threads = 256 * min(-(-n // 256), self.wave // 256)  # torch's grid for n elements
        if dist == "integers":
            out = cuda_reference.integers(seed, n, threads, dtype, int(p["low"]), int(p["high"]),
                                          philox_offset)
        else:  # normal: uniform's words and unroll stand in for the GPU's Box-Muller
            low, high = ((float(p["low"]), float(p["high"])) if dist == "uniform"
                         else (0.0, 1.0))
            out = cuda_reference.uniform(seed, n, threads, dtype, low, high, philox_offset)
        t = torch.from_numpy(np.ascontiguousarray(out))
        return t.view(torch.bfloat16) if dtype == "bfloat16" else t

    def reference(self, seed: int, n: int, dist: str, dtype: str, p: Params) -> Array:
        """The contract's call: a fresh generator (offset 0), n elements."""
        t = self.call(seed, 0, n, dist, dtype, p)
        return t.view(torch.uint16).numpy() if dtype == "bfloat16" else t.numpy()


@contextmanager
def using(client: TestClient, device: Gpu | None) -> Iterator[StreamService]:
    """The client's app makes its streams on this device (or none: a CPU-only authority) for
    the block, whatever the machine has: a service on that runtime stands in for the app's."""
    app = client.app
    assert isinstance(app, FastAPI)
    before: StreamService = app.state.streams
    app.state.streams = StreamService(before.limits, Runtime(device))
    try:
        yield app.state.streams
    finally:
        app.state.streams = before


def model_gpu(sms: int, threads_per_sm: int) -> ModelGpu:
    return ModelGpu(0, "Model GPU", sms, threads_per_sm)


def on(device: Gpu | None) -> StreamService:
    """A service that makes its streams on this device (None: a CPU-only one)."""
    return StreamService(runtime=Runtime(device))


def reference_runs_here(params: Params) -> bool:
    """Whether a torch-cuda reference call run on this machine is the profile's own: a GPU
    with the profile's launch wave (past the first wave, other GPUs give other values)."""
    if not torch.cuda.is_available():
        return False
    return Gpu.open(0).serves(wave(params))
