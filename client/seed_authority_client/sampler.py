"""``AuthoritySampler``: a ``torch.utils.data.Sampler`` that yields its rank's
DistributedSampler shard, fetched from the authority lazily, a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sized

from torch.utils.data import Sampler

from seed_authority_client.authority import Authority


class AuthoritySampler(Sampler[int]):
    """Drop-in for ``DistributedSampler(dataset, num_replicas, rank, shuffle, seed,
    drop_last)``: the same indices for every epoch (``set_epoch``), but no rank builds the
    permutation; each fetches only its own shard, ``chunk`` indices per request."""

    def __init__(self, authority: Authority, dataset: Sized | int, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, chunk: int = 65_536) -> None:
        if num_replicas is None or rank is None:
            import torch.distributed as dist

            ready = dist.is_available() and dist.is_initialized()
            num_replicas = num_replicas if num_replicas is not None else (
                dist.get_world_size() if ready else 1)
            rank = rank if rank is not None else (dist.get_rank() if ready else 0)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in [0, {num_replicas - 1}]")
        self.authority, self.n = authority, dataset if isinstance(dataset, int) else len(dataset)
        self.num_replicas, self.rank, self.shuffle = num_replicas, rank, shuffle
        self.seed, self.drop_last, self.chunk, self.epoch = seed, drop_last, chunk, 0
        if drop_last and self.n % num_replicas:
            self.num_samples = -(-(self.n - num_replicas) // num_replicas)
        else:
            self.num_samples = -(-self.n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        order = self.authority.distributed_order(self.n, self.rank, self.num_replicas, self.seed,
                                                 self.epoch, shuffle=self.shuffle,
                                                 drop_last=self.drop_last)
        for start in range(0, self.num_samples, self.chunk):
            yield from order.fetch(start, min(self.chunk, self.num_samples - start)).tolist()
