"""torch's index orders: DistributedSampler shards and DataLoader epochs, with worker seeds.

Both come from ``torch.randperm`` on a CPU mt19937 generator (torch 2.13 sources:
``torch/utils/data/distributed.py``, ``sampler.py``, ``dataloader.py``,
``_utils/worker.py``), served from the cached permutations of
:mod:`app.core.permutations`.

DistributedSampler, epoch e (after ``set_epoch(e)``): ``randperm(n)`` from
``Generator().manual_seed(seed + e)`` (or ``range(n)`` without shuffle), padded to
``total_size`` by repeating it from its start (or cut to it with ``drop_last``), then
``[rank:total_size:num_replicas]``. So element j of a rank's shard is
``perm[(rank + j * num_replicas) % n]``, and one permutation serves every rank.

DataLoader(shuffle=True, generator=g), epoch e: ``iter(loader)`` draws ``_base_seed``, an
int64 ``random_`` (two 32-bit words), in ``_BaseDataLoaderIter.__init__``; then the
RandomSampler draws ``randperm(n)`` (``w(n)`` words: ``n - 1``, or ``2n`` from
214748364) on its first ``next``, and, once its loop has yielded all n indices, one more
``randperm(n)`` whose slice ``[:num_samples % n]`` is empty but whose words are drawn
(``sampler.py``: ``yield from torch.randperm(n, generator=generator).tolist()[:
self.num_samples % n]``).
An epoch iterated to its end thus consumes ``2 + 2 w(n)`` words, so epoch e starts at
word ``e * (2 + 2 w(n))`` and is reached by an mt19937 jump, not by replaying e
permutations. With ``persistent_workers=True`` the iterator is made once and ``_reset``
for later epochs: the base seed is drawn in epoch 0 only, and epoch e's permutation
starts at word ``2 + 2 w(n) e``. Worker w seeds ``torch`` and ``random`` with
``base_seed + w`` and NumPy with ``_generate_state(base_seed, w)`` (four uint32 words).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data._utils.worker import _generate_state as _torch_generate_state

from app.core.engines import torch_cpu
from app.core.errors import InvalidParameter
from app.core.jump.mt19937 import jump_cost_ns
from app.core.permutations import (
    TORCH,
    Permutation,
    PermutationService,
    build_bytes,
    check_n,
    check_window,
    chunked,
    storage_dtype,
    torch_randperm_words,
)
from app.core.spec import Array

SEED_MAX = 2**64 - 1
_generate_state = cast(Callable[[int, int], list[int]], _torch_generate_state)
"""torch's own function that makes a worker's NumPy seed (typed here)."""
MAX_REPLICAS = 2**31
MAX_WORKERS = 4096
MAX_EPOCH = 2**48


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidParameter(name, f"must be in {low}..{high}, got {value}")


@dataclass(frozen=True)
class DistributedShard:
    """``DistributedSampler(range(n), num_replicas, rank, shuffle, seed, drop_last)`` after
    ``set_epoch(epoch)``."""

    n: int
    num_replicas: int
    rank: int
    seed: int = 0
    epoch: int = 0
    shuffle: bool = True
    drop_last: bool = False

    @property
    def num_samples(self) -> int:
        n, r = self.n, self.num_replicas
        if self.drop_last and n % r:
            return -(-(n - r) // r)
        return -(-n // r)

    @property
    def total_size(self) -> int:
        return self.num_samples * self.num_replicas

    @property
    def permutation(self) -> Permutation | None:
        if not self.shuffle:
            return None
        return Permutation(torch_cpu.ENGINE, TORCH, self.n, self.seed + self.epoch)

    def reference(self, start: int, stop: int) -> str:
        code = ("from torch.utils.data import DistributedSampler\n"
                f"s = DistributedSampler(range({self.n}), num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last})\n"
                f"s.set_epoch({self.epoch})\nx = list(s)\n")
        if start != 0 or stop != self.num_samples:
            code += f"x = x[{start}:{stop}]\n"
        return code


def distributed_shard(n: int, num_replicas: int, rank: int, seed: int = 0, epoch: int = 0,
                      shuffle: bool = True, drop_last: bool = False,
                      service: PermutationService | None = None) -> DistributedShard:
    """Validate a shard request as DistributedSampler does, and against the limits."""
    _check_range("num_replicas", num_replicas, 1, MAX_REPLICAS)
    if not 0 <= rank < num_replicas:
        raise InvalidParameter("rank", f"must be in 0..num_replicas-1 = {num_replicas - 1}, "
                                       f"got {rank}")
    _check_range("seed", seed, 0, SEED_MAX)
    _check_range("epoch", epoch, 0, MAX_EPOCH)
    if seed + epoch > SEED_MAX:
        raise InvalidParameter("epoch", f"seed + epoch seeds the generator: must be <= "
                                        f"2**64-1, got {seed + epoch}")
    if shuffle and service is not None:
        check_n(n, TORCH, service.limits)
    elif n < 0:
        raise InvalidParameter("n", f"must be >= 0, got {n}")
    return DistributedShard(n, num_replicas, rank, seed, epoch, shuffle, drop_last)


def shard_slice(service: PermutationService, shard: DistributedShard, offset: int,
                count: int, out: np.dtype[Any]) -> Iterator[Array]:
    """Elements [offset, offset + count) of the rank's shard, in chunks. Checks and the
    permutation's build happen now, before the first chunk."""
    check_window(shard.num_samples, offset, count, service.max_count)
    perm = shard.permutation
    full = service.full(perm) if perm is not None else None
    step = max(1, service.chunk_bytes // 8)

    def chunks() -> Iterator[Array]:
        for start in range(offset, offset + count, step):
            j = np.arange(start, min(start + step, offset + count), dtype=np.int64)
            pos = (shard.rank + j * shard.num_replicas) % shard.n
            yield (full[pos] if full is not None else pos).astype(out, copy=False)

    return chunks()


@dataclass(frozen=True)
class LoaderEpoch:
    """Epoch ``epoch`` of ``DataLoader(range(n), shuffle=True,
    generator=torch.Generator().manual_seed(seed))``, every earlier epoch run to its end."""

    n: int
    seed: int
    epoch: int
    num_workers: int = 0
    persistent_workers: bool = False
    batch_size: int = 1
    drop_last: bool = False

    @property
    def randperm_words(self) -> int:
        return torch_randperm_words(self.n)

    @property
    def epoch_words(self) -> int:
        """Words one epoch draws: the base seed (none after epoch 0 with persistent
        workers) and two randperm(n)."""
        base = 0 if self.persistent_workers and self.epoch else 2
        return base + 2 * self.randperm_words

    @property
    def base_seed_at(self) -> int:
        """Word of the loader's generator where this epoch's base seed is drawn."""
        if self.persistent_workers:
            return 0
        return self.epoch * (2 + 2 * self.randperm_words)

    @property
    def permutation_at(self) -> int:
        if self.persistent_workers:
            return 2 + 2 * self.randperm_words * self.epoch
        return self.base_seed_at + 2

    @property
    def num_samples(self) -> int:
        """Samples yielded in the epoch (drop_last drops an incomplete last batch)."""
        return self.n - self.n % self.batch_size if self.drop_last else self.n

    @property
    def key(self) -> tuple[Any, ...]:
        return ("torch-cpu-at", self.n, self.seed, self.permutation_at)

    def reference(self, start: int, stop: int) -> str:
        args = "batch_size=None"
        each = "for i in loader"
        if self.drop_last:
            args = f"batch_size={self.batch_size}, drop_last=True"
            each = "for batch in loader for i in batch"
        if self.num_workers:
            args += f", num_workers={self.num_workers}"
        if self.persistent_workers:
            args += ", persistent_workers=True"
        code = ("import torch\nfrom torch.utils.data import DataLoader\n"
                f"g = torch.Generator().manual_seed({self.seed})\n"
                f"loader = DataLoader(range({self.n}), shuffle=True, generator=g, {args})\n"
                f"for _ in range({self.epoch}):  # earlier epochs, each to its end\n"
                "    for _ in loader:\n        pass\n"
                f"x = [int(i) {each}]\n")
        if start != 0 or stop != self.num_samples:
            code += f"x = x[{start}:{stop}]\n"
        return code


def loader_epoch(n: int, seed: int, epoch: int, num_workers: int = 0,
                 persistent_workers: bool = False, batch_size: int = 1,
                 drop_last: bool = False,
                 service: PermutationService | None = None) -> LoaderEpoch:
    if n < 1:
        raise InvalidParameter("n", f"RandomSampler needs a dataset of length >= 1, got {n}")
    if service is not None:
        check_n(n, TORCH, service.limits)
    _check_range("seed", seed, 0, SEED_MAX)
    _check_range("epoch", epoch, 0, MAX_EPOCH)
    _check_range("num_workers", num_workers, 0, MAX_WORKERS)
    _check_range("batch_size", batch_size, 1, 2**31)
    if persistent_workers and num_workers == 0:
        raise InvalidParameter("persistent_workers", "needs num_workers > 0 (DataLoader "
                                                     "raises ValueError)")
    return LoaderEpoch(n, seed, epoch, num_workers, persistent_workers, batch_size, drop_last)


def _generator_at(seed: int, words: int) -> torch.Generator:
    """``torch.Generator().manual_seed(seed)`` after ``words`` 32-bit outputs: drawn for a
    few, jumped for many."""
    if words * 5.0 < jump_cost_ns(words):
        g = torch.Generator().manual_seed(seed)
        if words:
            torch.empty(words, dtype=torch.float32).uniform_(generator=g)  # 1 word each
        return g
    return torch_cpu.ENGINE.jumped(seed, words)


def base_seed(epoch: LoaderEpoch) -> int:
    """``_BaseDataLoaderIter._base_seed`` of the epoch: the int64 drawn by
    ``torch.empty((), dtype=torch.int64).random_(generator=loader.generator)``."""
    g = _generator_at(epoch.seed, epoch.base_seed_at)
    return int(torch.empty((), dtype=torch.int64).random_(generator=g).item())


def worker_seeds(base: int, num_workers: int) -> list[dict[str, Any]]:
    """What ``torch.utils.data._utils.worker._worker_loop`` seeds worker w with."""
    return [{"worker_id": w, "torch_seed": base + w, "python_seed": base + w,
             "numpy_seed": [int(v) for v in _generate_state(base, w)]}
            for w in range(num_workers)]


def epoch_order(service: PermutationService, epoch: LoaderEpoch) -> Array:
    """The whole index order of the epoch (cached)."""
    n = epoch.n

    def build() -> Array:
        g = _generator_at(epoch.seed, epoch.permutation_at)
        dtype = torch.int32 if storage_dtype(n).itemsize == 4 else torch.int64
        return torch.randperm(n, generator=g, dtype=dtype).numpy()

    return service.array(epoch.key, build_bytes(n, TORCH), build)


def epoch_slice(service: PermutationService, epoch: LoaderEpoch, offset: int, count: int,
                out: np.dtype[Any]) -> Iterator[Array]:
    """Elements [offset, offset + count) of the epoch's order; built now, cast as iterated."""
    check_window(epoch.num_samples, offset, count, service.max_count)
    return chunked(epoch_order(service, epoch)[offset:offset + count], out, service.chunk_bytes)
