"""Request and response shapes of the index-order endpoints: permutations and samplers."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.index_cache import IndexCacheStats
from app.core.permutations import METHODS, PermutationLimits
from app.schemas import Versions

PermutationEngineName = Enum(  # type: ignore[misc]
    "PermutationEngineName", {n.replace("-", "_"): n for n in METHODS}, type=str)
IndexDType = Literal["int64", "int32"]
FormatName = Literal["json", "npy", "raw"]

_FORMAT = "json (default), npy or raw (little-endian dtype); overrides the Accept header."
_DTYPE = ("int64 (default: the libraries' type) or int32 (half the bytes; n <= 2**31). The "
          "values are the same.")
_WINDOW_OFFSET = "Index of the first element (0-based)."
_WINDOW_COUNT = ("Number of elements; offset + count must not pass the end; at most the "
                 "configured max_count.")


class PermutationQuery(BaseModel):
    """Query of a permutation slice. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="Permute range(n); at most max_permutation_n and the memory "
                               "budget.", ge=0, examples=[10])
    seed: int | None = Field(None, description="Seed of the generator; range depends on the "
                                               "engine. Required unless run= is given.",
                             examples=[7])
    run: str | None = Field(None, description="A named run (PUT /v1/runs/{name}) instead of "
                                              "seed=: the seed derives from the run's.")
    allow_version_drift: bool = Field(False, description="With run=: serve a run created "
                                                         "under other library versions.")
    spawn_key: str | None = Field(
        None, description="A worker's generator, as for streams: comma-separated "
                          "non-negative integers (SeedSequence spawn key).")
    offset: int = Field(0, description=_WINDOW_OFFSET, ge=0)
    count: int | None = Field(None, description="Number of elements (default: n - offset). "
                                                 + _WINDOW_COUNT, ge=0)
    dtype: IndexDType = Field("int64", description=_DTYPE)
    format: FormatName | None = Field(None, description=_FORMAT)


class DistributedQuery(BaseModel):
    """``DistributedSampler(range(n), num_replicas, rank, shuffle, seed, drop_last)``,
    ``set_epoch(epoch)``. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="Dataset length.", ge=0, examples=[10])
    num_replicas: int = Field(description="World size.", ge=1, examples=[2])
    rank: int = Field(description="This rank, 0..num_replicas-1.", ge=0, examples=[0])
    seed: int | None = Field(None, description="DistributedSampler's seed (default 0, or "
                                               "the run's torch seed with run=); the "
                                               "permutation of epoch e is seeded with seed + e.",
                             ge=0)
    run: str | None = Field(None, description="A named run (PUT /v1/runs/{name}) instead of "
                                              "seed=: the seed derives from the run's.")
    allow_version_drift: bool = Field(False, description="With run=: serve a run created "
                                                         "under other library versions.")
    epoch: int = Field(0, description="The epoch given to set_epoch.", ge=0)
    shuffle: bool = Field(True, description="DistributedSampler's shuffle.")
    drop_last: bool = Field(False, description="Drop the tail instead of padding by "
                                               "repetition.")
    offset: int = Field(0, description=_WINDOW_OFFSET, ge=0)
    count: int | None = Field(None, description="Number of elements (default: num_samples - "
                                                 "offset). " + _WINDOW_COUNT, ge=0)
    dtype: IndexDType = Field("int64", description=_DTYPE)
    format: FormatName | None = Field(None, description=_FORMAT)


class DataLoaderQuery(BaseModel):
    """``DataLoader(dataset_of_len_n, shuffle=True, generator=torch.Generator().manual_seed(
    seed))``, epoch ``epoch`` (earlier epochs each run to their end). Unknown parameters are
    refused."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="Dataset length (>= 1).", ge=0, examples=[10])
    seed: int | None = Field(None, description="Seed of the loader's generator. Required "
                                               "unless run= is given.", ge=0, examples=[7])
    run: str | None = Field(None, description="A named run (PUT /v1/runs/{name}) instead of "
                                              "seed=: the seed derives from the run's.")
    allow_version_drift: bool = Field(False, description="With run=: serve a run created "
                                                         "under other library versions.")
    epoch: int = Field(0, description="0-based epoch.", ge=0)
    num_workers: int = Field(0, description="DataLoader's num_workers: how many workers' "
                                            "seeds to list.", ge=0)
    persistent_workers: bool = Field(
        False, description="DataLoader's persistent_workers (needs num_workers > 0): the base "
                           "seed is drawn in epoch 0 only.")
    batch_size: int = Field(1, description="Only with drop_last: the last incomplete batch "
                                           "is not yielded.", ge=1)
    drop_last: bool = Field(False, description="DataLoader's drop_last.")
    offset: int = Field(0, description=_WINDOW_OFFSET, ge=0)
    count: int | None = Field(None, description="Number of elements (default: all from "
                                                 "offset). " + _WINDOW_COUNT, ge=0)
    dtype: IndexDType = Field("int64", description=_DTYPE)
    format: FormatName | None = Field(None, description=_FORMAT)


class IndexSlice(BaseModel):
    """JSON form of an index-order slice."""

    run: str | None = Field(None, description="The named run the seed derives from (run=).")
    offset: int
    count: int
    next_offset: int = Field(description="offset + count.")
    dtype: str
    reference: str = Field(description="Python that reproduces this slice with the library.")
    versions: Versions
    values: list[int]


class PermutationSlice(IndexSlice):
    engine: str
    n: int
    seed: int
    spawn_key: list[int]
    draws: str = Field(description="What the library call draws from the generator.")


class DistributedSlice(IndexSlice):
    n: int
    num_replicas: int
    rank: int
    seed: int
    epoch: int
    shuffle: bool
    drop_last: bool
    num_samples: int = Field(description="Length of each rank's shard.")
    total_size: int = Field(description="num_samples * num_replicas: n padded or cut.")


class WorkerSeed(BaseModel):
    worker_id: int
    torch_seed: int = Field(description="torch.manual_seed(base_seed + worker_id) in the "
                                        "worker (torch.initial_seed()).")
    python_seed: int = Field(description="random.seed(base_seed + worker_id).")
    numpy_seed: list[int] = Field(
        description="np.random.seed(...) receives these four uint32 words: "
                    "torch.utils.data._utils.worker._generate_state(base_seed, worker_id).")


class DataLoaderSlice(IndexSlice):
    n: int
    seed: int
    epoch: int
    num_samples: int = Field(description="Indices the epoch yields.")
    base_seed: int = Field(description="_BaseDataLoaderIter._base_seed of this epoch.")
    workers: list[WorkerSeed]
    words: dict[str, int] = Field(
        description="Positions in the loader generator's mt19937 output (32-bit words): "
                    "base_seed_at, permutation_at, randperm_words, epoch_words.")


class PermutationMethodInfo(BaseModel):
    engine: str
    reference_example: str
    draws: str
    cost_ns_per_element: float
    max_n: int = Field(description="Largest n this engine serves under the current limits.")


class PermutationsInfo(BaseModel):
    engines: list[PermutationMethodInfo]
    limits: PermutationLimits
    cache: IndexCacheStats
    formats: dict[str, str]
