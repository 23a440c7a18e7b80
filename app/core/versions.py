"""The library versions and CPU kernel a response was made with."""

from __future__ import annotations

import platform
from functools import cache

import numpy as np
import torch

import app


@cache
def versions() -> dict[str, str]:
    return {
        "seed_authority": app.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
