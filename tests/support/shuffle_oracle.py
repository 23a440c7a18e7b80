"""Index orders written out directly against torch, numpy and random (imports nothing from
``app``): the oracle the permutation and sampler endpoints are tested against, and what
``scripts/make_golden_shuffles.py`` records."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader, DistributedSampler

from tests.support.oracle import BIT_GENERATORS

Ints = npt.NDArray[np.int64]


def _derived(seed: int, spawn_key: tuple[int, ...], bits: int) -> int:
    if not spawn_key:
        return seed
    dtype = np.uint32 if bits == 32 else np.uint64
    return int(np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(1, dtype)[0])


def permutation(engine: str, n: int, seed: int, spawn_key: tuple[int, ...] = ()) -> Ints:
    """The whole permutation, from one call of the library as a user writes it."""
    if engine == "torch-cpu":
        g = torch.Generator().manual_seed(_derived(seed, spawn_key, 64))
        return torch.randperm(n, generator=g).numpy()
    if engine == "numpy-legacy":
        return np.random.RandomState(_derived(seed, spawn_key, 32)).permutation(n)
    if engine in BIT_GENERATORS:
        entropy: Any = (np.random.SeedSequence(seed, spawn_key=spawn_key) if spawn_key
                        else seed)
        if engine == "numpy-pcg64" and not spawn_key:
            return np.random.default_rng(seed).permutation(n)
        return np.random.Generator(BIT_GENERATORS[engine](entropy)).permutation(n)
    if engine == "python-random":
        x = list(range(n))
        random.Random(_derived(seed, spawn_key, 64)).shuffle(x)
        return np.array(x, dtype=np.int64)
    raise ValueError(engine)


def distributed(n: int, num_replicas: int, rank: int, seed: int, epoch: int, shuffle: bool,
                drop_last: bool) -> tuple[list[int], int, int]:
    """(shard, num_samples, total_size) of DistributedSampler after set_epoch(epoch)."""
    dataset: Any = range(n)
    s: DistributedSampler[int] = DistributedSampler(
        dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
        drop_last=drop_last)
    s.set_epoch(epoch)
    return list(s), s.num_samples, s.total_size


def loader_epochs(n: int, seed: int, epochs: int, *, num_workers: int = 0,
                  persistent_workers: bool = False, batch_size: int | None = None,
                  drop_last: bool = False) -> list[list[int]]:
    """The index order of each of the first ``epochs`` epochs of a seeded DataLoader."""
    g = torch.Generator().manual_seed(seed)
    dataset: Any = range(n)
    loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g, batch_size=batch_size,
                        drop_last=drop_last, num_workers=num_workers,
                        persistent_workers=persistent_workers)
    out = []
    for _ in range(epochs):
        if batch_size is None:
            out.append([int(i) for i in loader])
        else:
            out.append([int(i) for batch in loader for i in batch])
    return out
