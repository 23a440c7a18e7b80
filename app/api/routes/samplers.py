"""``GET /v1/samplers/distributed`` and ``/v1/samplers/dataloader``: torch's index orders."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.index_slices import answer, responses
from app.api.routes.permutations import AcceptHeader, IfNoneMatch, permutation_service
from app.core.permutations import check_window, output_dtype
from app.core.samplers import (
    base_seed,
    distributed_shard,
    epoch_slice,
    loader_epoch,
    shard_slice,
    worker_seeds,
)
from app.schemas_shuffles import (
    DataLoaderQuery,
    DataLoaderSlice,
    DistributedQuery,
    DistributedSlice,
)

router = APIRouter(prefix="/v1/samplers", tags=["samplers"])


@router.get(
    "/distributed",
    response_model=None,
    responses=responses(DistributedSlice, "Elements offset..offset+count-1 of the rank's shard"),
    summary="A rank's DistributedSampler shard of an epoch",
    description=(
        "Exactly `list(DistributedSampler(range(n), num_replicas, rank, shuffle, seed, "
        "drop_last))` after `set_epoch(epoch)` (torch 2.13): `randperm(n)` seeded with seed + "
        "epoch, padded by repetition (or cut with drop_last) to total_size, then "
        "`[rank:total_size:num_replicas]`; sliced. One cached permutation serves every rank "
        "of an epoch."
    ),
)
def get_distributed(query: Annotated[DistributedQuery, Query()], request: Request,
                    accept: AcceptHeader = None, if_none_match: IfNoneMatch = None) -> Response:
    service = permutation_service(request)
    shard = distributed_shard(query.n, query.num_replicas, query.rank, query.seed, query.epoch,
                              query.shuffle, query.drop_last, service)
    offset = query.offset
    count = query.count if query.count is not None else max(shard.num_samples - offset, 0)
    check_window(shard.num_samples, offset, count, service.max_count)
    out = output_dtype(query.dtype, shard.n)

    def meta() -> dict[str, Any]:
        return {"n": shard.n, "num_replicas": shard.num_replicas, "rank": shard.rank,
                "seed": shard.seed, "epoch": shard.epoch, "shuffle": shard.shuffle,
                "drop_last": shard.drop_last, "num_samples": shard.num_samples,
                "total_size": shard.total_size,
                "reference": shard.reference(offset, offset + count)}

    ident = {"kind": "distributed", **{k: v for k, v in meta().items() if k != "reference"}}
    return answer(ident, query.format, accept, if_none_match, query.dtype, offset, count,
                  shard.num_samples, meta, lambda: shard_slice(service, shard, offset, count, out),
                  service.chunk_bytes)


@router.get(
    "/dataloader",
    response_model=None,
    responses=responses(DataLoaderSlice, "Elements offset..offset+count-1 of the epoch's order"),
    summary="A DataLoader epoch's index order, base seed and worker seeds",
    description=(
        "The order in which `DataLoader(dataset_of_len_n, shuffle=True, "
        "generator=torch.Generator().manual_seed(seed))` yields samples in epoch `epoch` "
        "(0-based, each earlier epoch iterated to its end), its `base_seed` and each worker's "
        "torch, random and NumPy seeds. Epoch e is reached by an mt19937 jump to the word "
        "where it starts (2 + 2 w(n) words per epoch, w(n) the words of randperm(n)), not by "
        "replaying e permutations."
    ),
)
def get_dataloader(query: Annotated[DataLoaderQuery, Query()], request: Request,
                   accept: AcceptHeader = None, if_none_match: IfNoneMatch = None) -> Response:
    service = permutation_service(request)
    epoch = loader_epoch(query.n, query.seed, query.epoch, query.num_workers,
                         query.persistent_workers, query.batch_size, query.drop_last, service)
    offset = query.offset
    count = query.count if query.count is not None else max(epoch.num_samples - offset, 0)
    check_window(epoch.num_samples, offset, count, service.max_count)
    out: np.dtype[Any] = output_dtype(query.dtype, epoch.n)

    def meta() -> dict[str, Any]:
        base = base_seed(epoch)
        return {"n": epoch.n, "seed": epoch.seed, "epoch": epoch.epoch,
                "num_samples": epoch.num_samples, "base_seed": base,
                "workers": worker_seeds(base, epoch.num_workers),
                "words": {"base_seed_at": epoch.base_seed_at,
                          "permutation_at": epoch.permutation_at,
                          "randperm_words": epoch.randperm_words,
                          "epoch_words": epoch.epoch_words},
                "reference": epoch.reference(offset, offset + count)}

    ident = {"kind": "dataloader", "n": epoch.n, "seed": epoch.seed, "epoch": epoch.epoch,
             "num_workers": epoch.num_workers, "persistent_workers": epoch.persistent_workers,
             "batch_size": epoch.batch_size, "drop_last": epoch.drop_last}
    return answer(ident, query.format, accept, if_none_match, query.dtype, offset, count,
                  epoch.num_samples, meta,
                  lambda: epoch_slice(service, epoch, offset, count, out), service.chunk_bytes)
