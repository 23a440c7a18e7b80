"""DistributedSampler shards and DataLoader epochs against torch's own classes, including
base seeds and worker seeds seen inside real worker processes."""

from __future__ import annotations

import itertools
import random
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset, get_worker_info

from app.core import samplers
from app.core.errors import InvalidParameter
from app.core.permutations import PermutationLimits, PermutationService, torch_randperm_words
from app.core.samplers import (
    base_seed,
    distributed_shard,
    epoch_slice,
    loader_epoch,
    shard_slice,
    worker_seeds,
)
from tests.support import shuffle_oracle

I64 = np.dtype("<i8")


def _service(chunk_bytes: int = 64) -> PermutationService:
    return PermutationService(PermutationLimits(cache_bytes=1 << 24), 10_000_000, chunk_bytes)


def _join(chunks: Any) -> list[int]:
    return [int(v) for arr in chunks for v in arr]


def _cuts(draw: Any, n: int) -> list[int]:
    inner = draw(st.lists(st.integers(0, n), max_size=5)) if n else []
    return sorted({0, n, *inner})


@settings(max_examples=150)
@given(data=st.data(), n=st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 2000)),
       num_replicas=st.integers(1, 9), seed=st.integers(0, 2**63), epoch=st.integers(0, 50),
       shuffle=st.booleans(), drop_last=st.booleans(), chunk=st.sampled_from([8, 1 << 20]))
def test_distributed_shards_equal_distributed_sampler(data: Any, n: int, num_replicas: int,
                                                      seed: int, epoch: int, shuffle: bool,
                                                      drop_last: bool, chunk: int) -> None:
    rank = data.draw(st.integers(0, num_replicas - 1), label="rank")
    service = _service(chunk)
    shard = distributed_shard(n, num_replicas, rank, seed, epoch, shuffle, drop_last, service)
    expected, num_samples, total_size = shuffle_oracle.distributed(
        n, num_replicas, rank, seed, epoch, shuffle, drop_last)
    assert (shard.num_samples, shard.total_size) == (num_samples, total_size)
    cuts = _cuts(data.draw, num_samples)
    got = [v for a, b in itertools.pairwise(cuts)
           for v in _join(shard_slice(service, shard, a, b - a, I64))]
    assert got == expected
    scope: dict[str, Any] = {}
    exec(shard.reference(0, num_samples), scope)
    assert scope["x"] == expected


def test_every_rank_shares_one_permutation() -> None:
    service = _service()
    for rank in range(4):
        shard = distributed_shard(1000, 4, rank, 7, 3, service=service)
        assert _join(shard_slice(service, shard, 0, shard.num_samples, I64)) == \
            shuffle_oracle.distributed(1000, 4, rank, 7, 3, True, False)[0]
    assert service.cache.stats().misses == 1
    assert service.cache.stats().hits == 3


@settings(max_examples=40)
@given(data=st.data(), n=st.one_of(st.sampled_from([1, 2, 3]), st.integers(1, 300)),
       seed=st.integers(0, 2**64 - 1), epochs=st.integers(1, 6),
       persistent=st.booleans(), batch=st.sampled_from([None, 1, 4, 7]),
       drop_last=st.booleans())
def test_dataloader_epochs_equal_the_loader(data: Any, n: int, seed: int, epochs: int,
                                            persistent: bool, batch: int | None,
                                            drop_last: bool) -> None:
    drop_last = drop_last and batch is not None
    # persistent_workers needs workers; the order does not depend on how many. Real workers
    # are exercised (slowly) below; here the main process's draws are what matter.
    workers = 1 if persistent else 0
    expected = shuffle_oracle.loader_epochs(n, seed, epochs, num_workers=workers,
                                            persistent_workers=persistent, batch_size=batch,
                                            drop_last=drop_last)
    service = _service()
    for e, order in enumerate(expected):
        ep = loader_epoch(n, seed, e, workers, persistent, batch or 1, drop_last, service)
        assert ep.num_samples == len(order)
        cuts = _cuts(data.draw, len(order))
        got = [v for a, b in itertools.pairwise(cuts)
               for v in _join(epoch_slice(service, ep, a, b - a, I64))]
        assert got == order, e


def _loader_words(n: int, seed: int, epochs: int) -> torch.Generator:
    g = torch.Generator().manual_seed(seed)
    dataset: Any = range(n)
    loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g, batch_size=None)
    for _ in range(epochs):
        for _ in loader:
            pass
    return g


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1000])
def test_an_epoch_draws_2_plus_2_randperm_words(n: int) -> None:
    """rng-notes section 7 says 2 + (n - 1); torch 2.13's RandomSampler draws a second,
    empty-sliced randperm(n) at the end of each epoch: 2 + 2 (n - 1)."""
    g = _loader_words(n, 5, 3)
    ref = torch.Generator().manual_seed(5)
    torch.empty(3 * (2 + 2 * torch_randperm_words(n)), dtype=torch.float32).uniform_(
        generator=ref)
    assert torch.equal(g.get_state(), ref.get_state())
    if n > 1:
        ref2 = torch.Generator().manual_seed(5)
        torch.empty(3 * (2 + torch_randperm_words(n)), dtype=torch.float32).uniform_(
            generator=ref2)
        assert not torch.equal(g.get_state(), ref2.get_state())


def test_a_far_epoch_is_reached_by_a_jump() -> None:
    n, seed, epochs = 50, 2024, 400
    expected = shuffle_oracle.loader_epochs(n, seed, epochs + 1)[epochs]
    service = _service()
    ep = loader_epoch(n, seed, epochs, service=service)
    assert _join(epoch_slice(service, ep, 0, n, I64)) == expected
    assert ep.base_seed_at == epochs * (2 + 2 * (n - 1))


class _Probe(Dataset[tuple[int, int, int, float, int]]):
    """Each item reports what its worker was seeded with."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int) -> tuple[int, int, int, float, int]:
        info = get_worker_info()
        assert info is not None
        return (i, info.id, torch.initial_seed(), random.random(),
                int(np.random.randint(0, 2**31)))


@pytest.mark.parametrize("persistent", [False, True])
def test_base_and_worker_seeds_inside_real_workers(persistent: bool) -> None:
    seed, workers = 77, 2
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(_Probe(), shuffle=True, generator=g, batch_size=None,
                        num_workers=workers, persistent_workers=persistent)
    service = _service()
    for e in range(2):
        seen: dict[int, tuple[int, float, int]] = {}
        order: list[int] = []
        for i, wid, tseed, py, npy in loader:
            order.append(int(i))
            seen.setdefault(int(wid), (int(tseed), float(py), int(npy)))
        ep = loader_epoch(12, seed, e, workers, persistent, service=service)
        assert _join(epoch_slice(service, ep, 0, 12, I64)) == order
        for w in worker_seeds(base_seed(ep), workers):
            tseed, py, npy = seen[w["worker_id"]]
            assert tseed == w["torch_seed"]
            if persistent and e:
                continue  # the same workers, seeded once: their generators have moved on
            assert py == random.Random(w["python_seed"]).random()
            assert npy == np.random.RandomState(w["numpy_seed"]).randint(0, 2**31)


def test_base_seed_is_the_loaders_int64_draw() -> None:
    g = torch.Generator().manual_seed(9)
    dataset: Any = range(5)
    loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g, batch_size=None)
    service = _service()
    for e in range(3):
        it = iter(loader)
        drawn = it._base_seed
        list(it)
        assert base_seed(loader_epoch(5, 9, e, service=service)) == drawn


BAD: list[tuple[dict[str, Any], str]] = [
    ({"n": 0, "seed": 1, "epoch": 0}, "n"),
    ({"n": 5, "seed": -1, "epoch": 0}, "seed"),
    ({"n": 5, "seed": 2**64, "epoch": 0}, "seed"),
    ({"n": 5, "seed": 1, "epoch": -1}, "epoch"),
    ({"n": 5, "seed": 1, "epoch": 0, "num_workers": -1}, "num_workers"),
    ({"n": 5, "seed": 1, "epoch": 0, "persistent_workers": True}, "persistent_workers"),
    ({"n": 5, "seed": 1, "epoch": 0, "batch_size": 0}, "batch_size"),
]


@pytest.mark.parametrize(("kwargs", "parameter"), BAD)
def test_loader_refusals_name_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        loader_epoch(**kwargs)
    assert info.value.parameter == parameter


def test_distributed_refusals_name_the_parameter() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"n": 5, "num_replicas": 0, "rank": 0}, "num_replicas"),
        ({"n": 5, "num_replicas": 2, "rank": 2}, "rank"),
        ({"n": 5, "num_replicas": 2, "rank": 0, "seed": 2**64 - 1, "epoch": 1}, "epoch")]
    for kwargs, parameter in cases:
        with pytest.raises(InvalidParameter) as info:
            distributed_shard(**kwargs)
        assert info.value.parameter == parameter


@pytest.mark.parametrize("words", [0, 1, 623, 624, 625, 40_000, 3_000_000])
def test_jump_and_walk_reach_the_same_word(words: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal next outputs (over a twist); the state bytes may differ in representation."""
    outputs = []
    for how in ("jump", "walk"):
        monkeypatch.setattr(samplers, "SEEK", how)
        g = samplers.generator_at(12345, words)
        outputs.append(torch.randint(0, 2**20, (1500,), generator=g))
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("how", ["jump", "walk"])
def test_a_far_epoch_through_each_path(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch 700 of n = 2000 (2.8e6 words in: a jump when left to choose)."""
    monkeypatch.setattr(samplers, "SEEK", how)
    n, seed, target = 2000, 31, 700
    g = torch.Generator().manual_seed(seed)
    dataset: Any = range(n)
    loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g, batch_size=n)
    for _ in range(target):
        for _ in loader:
            pass
    it = iter(loader)
    drawn = it._base_seed
    expected = [int(i) for batch in it for i in batch]
    service = _service()
    ep = loader_epoch(n, seed, target, service=service)
    assert base_seed(ep) == drawn
    assert _join(epoch_slice(service, ep, 0, n, I64)) == expected
