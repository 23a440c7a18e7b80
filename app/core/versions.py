"""The library versions and CPU kernel a response was made with."""

from __future__ import annotations

import platform
from functools import cache

import numpy as np
import torch

import app
from app.core.cuda.gpu import Gpu
from app.core.jax.sampling import jax_version


@cache
def versions() -> dict[str, str]:
    """Library versions (``jax`` only when installed: jax-threefry's normal uses it)."""
    return {
        "seed_authority": app.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda_device": _cuda_device(),
        **({"jax": jax} if (jax := jax_version()) is not None else {}),
    }


def _cuda_device() -> str:
    """The GPU this process sees, with its SM count, or "none" (torch-cuda is emulated)."""
    return Gpu.open(0).describe() if torch.cuda.is_available() else "none"
