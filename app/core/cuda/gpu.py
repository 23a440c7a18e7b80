"""torch-cuda streams generated on this process's GPU, when it has one.

Element e of a torch-cuda stream on a GPU whose launch wave is T threads, with unroll u
(4 or 2 values per curand4 call), is value ``ii`` of call ``k`` of thread ``tid``:
``k, r = divmod(e, T*u); ii, tid = divmod(r, T)``, and call k of every thread reads Philox
counter ``offset/4 + k``. So a local call of a whole number of unrolled waves (N >= T: the
full grid), made at generator offset ``4*k`` (``g.set_offset``), holds stream elements
``k*T*u .. k*T*u + N - 1`` as its elements 0..N-1. A slice is served by such calls:

    g = torch.Generator("cuda").manual_seed(seed); g.set_offset(4 * k)
    torch.empty(N, dtype=T, device="cuda").uniform_(low, high, generator=g)[a:b]

which only holds when the GPU's wave is the profile's (``serves``). ``Gpu.call`` is the one
place that runs torch on the device; the rest is the arithmetic above, tested on the CPU with
an emulated device (tests/core/test_cuda_gpu.py) and against real CUDA by ``scripts/compare_cuda``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.core.cuda.devices import launch_wave
from app.core.dtypes import DType
from app.core.errors import Unavailable
from app.core.spec import Array, Params
from app.core.torch_dtypes import TORCH_DTYPES, to_numpy

MAX_CALL_ELEMENTS = 1 << 25
"""Most elements one GPU call makes (bounds device memory per request); at least one
unrolled wave is always made."""


@dataclass(frozen=True)
class Gpu:
    """A CUDA device and the launch profile torch uses on it."""

    index: int
    name: str
    sms: int
    threads_per_sm: int

    @classmethod
    def open(cls, index: int) -> Gpu:
        props = torch.cuda.get_device_properties(index)
        return cls(index, props.name, props.multi_processor_count,
                   props.max_threads_per_multi_processor)

    @property
    def wave(self) -> int:
        """Threads in torch's largest launch on this GPU."""
        return launch_wave(self.sms, self.threads_per_sm)

    def describe(self) -> str:
        return (f"cuda:{self.index} {self.name} ({self.sms} SMs, "
                f"{self.threads_per_sm} threads/SM)")

    def serves(self, wave: int) -> bool:
        """Whether streams of a profile with this launch wave are this GPU's own."""
        return wave == self.wave

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.index)

    def call(self, seed: int, philox_offset: int, n: int, dist: str, dtype: str,
             p: Params) -> torch.Tensor:
        """The reference call of n elements, made at a generator offset: a device tensor."""
        device = self.device
        with torch.cuda.device(device):  # torch sizes the grid from the current device
            g = torch.Generator(device)
            g.manual_seed(seed)
            g.set_offset(philox_offset)
            tdt = TORCH_DTYPES[dtype]
            if dist == "uniform":
                return torch.empty(n, dtype=tdt, device=device).uniform_(
                    float(p["low"]), float(p["high"]), generator=g)
            if dist == "normal":
                return torch.empty(n, dtype=tdt, device=device).normal_(
                    float(p["loc"]), float(p["scale"]), generator=g)
            return torch.randint(int(p["low"]), int(p["high"]), (n,), dtype=tdt,
                                 device=device, generator=g)

    def draw(self, seed: int, start: int, n: int, dist: str, dt: DType, p: Params,
             unroll: int) -> Array:
        """Stream elements [start, start + n) of this GPU's profile, in the dtype's storage
        (bfloat16 as uint16 bit patterns)."""
        per_call = self.wave * unroll  # elements of one curand4 call of every thread
        try:
            return self._draw(seed, start, n, dist, dt, p, per_call,
                              max(1, MAX_CALL_ELEMENTS // per_call))
        except torch.OutOfMemoryError:
            pass  # other requests hold the memory: release cached blocks, one wave a call
        torch.cuda.empty_cache()
        try:
            return self._draw(seed, start, n, dist, dt, p, per_call, 1)
        except torch.OutOfMemoryError:
            raise Unavailable("count", f"{self.describe()} is out of memory for now; retry "
                                       "later or ask for fewer elements") from None

    def _draw(self, seed: int, start: int, n: int, dist: str, dt: DType, p: Params,
              per_call: int, calls: int) -> Array:
        """Elements [start, start + n) by calls of ``calls`` unrolled waves at most."""
        first, last = start // per_call, (start + n - 1) // per_call
        parts = []
        for k in range(first, last + 1, calls):
            waves = min(calls, last + 1 - k)
            base = k * per_call
            made = self.call(seed, 4 * k, waves * per_call, dist, dt.name, p)
            part = made[max(start, base) - base:min(start + n, base + waves * per_call) - base]
            parts.append(to_numpy(part.cpu()))
        if not parts:
            return np.empty(0, dtype=dt.storage)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def detect(spec: str) -> Gpu | None:
    """The GPU a setting names (``create_app`` puts it in the service's ``Runtime``):
    ``auto`` (cuda:0 when CUDA is available), ``off``, or an index
    / ``cuda:N`` (an error when that device is not there)."""
    spec = spec.strip().lower()
    if spec == "off":
        return None
    if spec == "auto":
        return Gpu.open(0) if torch.cuda.is_available() else None
    index = spec.removeprefix("cuda:")
    if not index.isdigit():
        raise ValueError(f"cuda setting {spec!r}: use auto, off, N or cuda:N")
    if not torch.cuda.is_available() or int(index) >= torch.cuda.device_count():
        raise ValueError(f"cuda setting {spec!r}: no such CUDA device here")
    return Gpu.open(int(index))
