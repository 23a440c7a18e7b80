"""Shards and permutations through the authority against building them locally.

Prints medians and ratios measured side by side in one run:

- a rank's DistributedSampler shard (rank 3 of 8) of an n-sample epoch fetched through the
  client, cold (a new epoch: the server builds the permutation) and cached (another rank of
  an epoch already built), against ``list(DistributedSampler(...))`` built locally;
- a whole permutation fetched (cached) against the local ``torch.randperm`` and numpy
  ``permutation``.

    python -m bench.permutations [--n 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from bench._server import running_server
from bench._timing import median_ms, timed
from seed_authority_client import Authority

RANKS, RANK, SEED = 8, 3, 11


def local_shard(n: int, epoch: int) -> list[int]:
    dataset: Any = range(n)
    sampler: DistributedSampler[int] = DistributedSampler(dataset, num_replicas=RANKS,
                                                          rank=RANK, seed=SEED)
    sampler.set_epoch(epoch)
    return list(sampler)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    args = ap.parse_args()
    n = args.n
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server())
        authority = stack.enter_context(Authority(url, chunk=n, timeout=300))
        assert authority.distributed_indices(n, RANK, RANKS, SEED, 0).tolist() == local_shard(n, 0)

        epochs = itertools.count(1)
        cold = median_ms(lambda: authority.distributed_indices(n, RANK, RANKS, SEED,
                                                               next(epochs)), args.repeats)
        other = (RANK + 1) % RANKS
        warm = median_ms(lambda: authority.distributed_indices(n, other, RANKS, SEED, 0),
                         args.repeats)
        local = median_ms(lambda: local_shard(n, 0), args.repeats)
        print(f"DistributedSampler shard, n={n}, rank {RANK} of {RANKS} "
              f"({-(-n // RANKS)} indices):")
        print(f"  authority cold (new epoch) {cold:9.1f} ms   ratio to local {cold / local:5.2f}")
        print(f"  authority cached           {warm:9.1f} ms   ratio to local {warm / local:5.2f}")
        print(f"  local DistributedSampler   {local:9.1f} ms")

        perm = authority.permutation("torch-cpu", n, SEED)
        first = timed(lambda: perm[:]) * 1e3
        fetched = median_ms(lambda: perm[:], args.repeats)
        g = torch.Generator()
        t_torch = median_ms(lambda: torch.randperm(n, generator=g.manual_seed(SEED)),
                            args.repeats)
        t_numpy = median_ms(lambda: np.random.default_rng(SEED).permutation(n), args.repeats)
        print(f"Whole permutation, n={n}:")
        print(f"  authority torch-cpu first {first:9.1f} ms, cached {fetched:9.1f} ms")
        print(f"  local torch.randperm      {t_torch:9.1f} ms   ratio cached/local "
              f"{fetched / t_torch:5.2f}")
        print(f"  local numpy permutation   {t_numpy:9.1f} ms   ratio cached/local "
              f"{fetched / t_numpy:5.2f}")


if __name__ == "__main__":
    main()
