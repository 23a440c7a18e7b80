"""Ranks of a torch.distributed (gloo, CPU) job iterate their shards through the authority.

Each rank uses an ``AuthoritySampler`` in a DataLoader for a few epochs and checks, every
epoch, that it yields exactly what ``DistributedSampler`` yields locally; the ranks then
gather their shards and check that together they cover the dataset. Rank 0 also checks a
seeded ``DataLoader(shuffle=True, num_workers=2)``: its epoch order and the seeds its worker
processes report against the authority's ``/v1/samplers/dataloader``.

    python -m examples.distributed_training --url http://127.0.0.1:8000 --ranks 2
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

import torch
import torch.distributed as dist
from torch.multiprocessing.spawn import spawn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, get_worker_info

from seed_authority_client import Authority
from seed_authority_client.sampler import AuthoritySampler

N, SEED, EPOCHS, BATCH = 10_007, 2024, 3, 64


class Samples(Dataset[int]):
    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> int:
        return i


class WorkerSeeds(Dataset[tuple[int, int, int]]):
    """Each item says which worker loaded it and the torch seed that worker was given."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> tuple[int, int, int]:
        info = get_worker_info()
        assert info is not None
        return i, info.id, torch.initial_seed()


def check_loader_workers(authority: Authority) -> None:
    g = torch.Generator().manual_seed(SEED)
    loader = DataLoader(WorkerSeeds(), shuffle=True, generator=g, batch_size=None, num_workers=2)
    for epoch in range(2):
        order, seeds = [], {}
        for i, worker, seed in loader:
            order.append(int(i))
            seeds[int(worker)] = int(seed)
        served = authority.dataloader_epoch(40, SEED, epoch, num_workers=2)
        assert order == served[:].tolist(), f"DataLoader epoch {epoch} order differs"
        expected = {w["worker_id"]: w["torch_seed"] for w in served.meta["workers"]}
        assert seeds == expected, f"worker seeds of epoch {epoch} differ"
    print("rank 0: DataLoader epoch orders and worker seeds equal the authority's")


def run(rank: int, world: int, url: str, port: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        with Authority(url, chunk=1000) as authority:
            sampler = AuthoritySampler(authority, Samples(), shuffle=True, seed=SEED, chunk=1000)
            local: DistributedSampler[int] = DistributedSampler(Samples(), shuffle=True, seed=SEED)
            loader = DataLoader(Samples(), batch_size=BATCH, sampler=sampler)
            for epoch in range(EPOCHS):
                sampler.set_epoch(epoch)
                local.set_epoch(epoch)
                mine = [int(i) for batch in loader for i in batch]
                assert mine == list(local), f"rank {rank} epoch {epoch} differs"
                shards: list[Any] = [None] * world
                dist.all_gather_object(shards, mine)
                covered = {i for shard in shards for i in shard}
                assert covered == set(range(N)), f"epoch {epoch}: the shards miss samples"
            print(f"rank {rank}: {EPOCHS} epochs of {len(mine)} indices, identical to "
                  "DistributedSampler")
            if rank == 0:
                check_loader_workers(authority)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    spawn(run, args=(args.ranks, args.url, _free_port()), nprocs=args.ranks,  # type: ignore[no-untyped-call]
          join=True)
    print(f"all {args.ranks} ranks: shards identical to DistributedSampler on every epoch, "
          "and together they cover the dataset")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
