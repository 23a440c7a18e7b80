"""The one place that touches torch's global generator, and how it is guarded.

Module constructors (and ``torch.nn.init.sparse_``'s ``torch.randperm``) draw from
torch's global generator and take no ``generator=``. Such a draw runs under one process
lock, seeded, inside ``torch.random.fork_rng``: requests cannot interleave their draws,
and the global state is restored afterwards. Stream requests use their own generators
and never read the global one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_LOCK = threading.Lock()


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    with _LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
