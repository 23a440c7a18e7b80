"""Permutations against the libraries themselves (tests/support/shuffle_oracle.py), the words
torch.randperm draws on both sides of its algorithm switch, and the cache's budget."""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import LimitExceeded
from app.core.index_cache import IndexCache
from app.core.permutations import (
    METHODS,
    TORCH_INSIDE_OUT_FROM,
    PermutationLimits,
    PermutationService,
    resolve_permutation,
    torch_randperm_words,
)
from app.core.registry import ENGINES
from tests.support import shuffle_oracle

LARGE = os.environ.get("SEED_AUTHORITY_LARGE_TESTS") == "1" or int(
    os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "0")) > 1000
"""Permutations past torch's 2**32 // 20 switch cost ~1-2 GB and tens of seconds each: they
run only when asked (SEED_AUTHORITY_LARGE_TESTS=1, or HYPOTHESIS_MAX_EXAMPLES > 1000)."""

SIZES = st.one_of(st.sampled_from([0, 1, 2, 3, 16, 17]), st.integers(0, 3000))


def _service(chunk_bytes: int = 64, cache_bytes: int = 1 << 24,
             max_count: int = 10_000_000) -> PermutationService:
    return PermutationService(PermutationLimits(cache_bytes=cache_bytes), max_count, chunk_bytes)


def _cuts(draw: Any, n: int) -> list[int]:
    inner = draw(st.lists(st.integers(0, n), max_size=6)) if n else []
    return sorted({0, n, *inner})


def _join(chunks: Any) -> np.ndarray:
    parts = list(chunks)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


@settings(max_examples=150)
@given(data=st.data(), engine=st.sampled_from(list(METHODS)), n=SIZES,
       spawn=st.sampled_from([(), (0,), (3, 1)]), dtype=st.sampled_from(["int64", "int32"]),
       chunk=st.sampled_from([4, 64, 1 << 20]))
def test_slices_concatenate_to_the_library_permutation(data: Any, engine: str, n: int,
                                                       spawn: tuple[int, ...], dtype: str,
                                                       chunk: int) -> None:
    seed = data.draw(st.integers(0, ENGINES[engine].seed_max), label="seed")
    service = _service(chunk_bytes=chunk)
    perm = resolve_permutation(engine, n, seed, spawn)
    expected = shuffle_oracle.permutation(engine, n, seed, spawn)
    cuts = _cuts(data.draw, n)
    got = np.concatenate([_join(service.slice(perm, a, b - a, dtype))
                          for a, b in itertools.pairwise(cuts)] or [np.empty(0)])
    assert got.dtype == np.dtype(dtype) or n == 0
    assert got.astype(np.int64).tolist() == expected.tolist()
    scope: dict[str, Any] = {}
    exec(perm.reference(0, n), scope)
    assert np.asarray(scope["x"]).tolist() == expected.tolist()


@pytest.mark.parametrize("engine", list(METHODS))
def test_larger_permutations(engine: str) -> None:
    n = 20_000 if engine == "python-random" else 300_000
    service = _service(chunk_bytes=1 << 16)
    perm = resolve_permutation(engine, n, 12345)
    got = _join(service.slice(perm, 1000, n - 1000))
    assert np.array_equal(got, shuffle_oracle.permutation(engine, n, 12345)[1000:])
    assert service.full(perm).dtype == np.int32  # held as int32 where n allows


def _advanced(seed: int, words: int) -> torch.Generator:
    g = torch.Generator().manual_seed(seed)
    while words:
        step = min(words, 1 << 24)
        torch.empty(step, dtype=torch.float32).uniform_(generator=g)  # one word each
        words -= step
    return g


@settings(max_examples=60)
@given(n=st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 100_000)),
       seed=st.integers(0, 2**64 - 1))
def test_torch_randperm_words_below_the_switch(n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    torch.randperm(n, generator=g)
    assert torch.equal(g.get_state(), _advanced(seed, torch_randperm_words(n)).get_state())


@pytest.mark.skipif(not LARGE, reason="~0.9 GB and 20-150 s per size: SEED_AUTHORITY_LARGE_TESTS=1")
@pytest.mark.parametrize("n", [TORCH_INSIDE_OUT_FROM - 1, TORCH_INSIDE_OUT_FROM])
def test_torch_randperm_words_at_the_switch(n: int) -> None:
    """Words drawn just below and at the switch (int32 results, one at a time): n - 1 words,
    then 2n."""
    g = torch.Generator().manual_seed(3)
    p = torch.randperm(n, generator=g, dtype=torch.int32)
    del p
    assert torch.equal(g.get_state(), _advanced(3, torch_randperm_words(n)).get_state())


def test_the_switch_is_where_the_torch_source_puts_it() -> None:
    """``n < std::numeric_limits<uint32_t>::max() / 20`` in randperm_cpu; both sides are
    checked against torch by the large tests above (measured: n - 1 words at 214748363,
    2n at 214748364)."""
    assert TORCH_INSIDE_OUT_FROM == 214_748_364
    assert torch_randperm_words(TORCH_INSIDE_OUT_FROM - 1) == TORCH_INSIDE_OUT_FROM - 2
    assert torch_randperm_words(TORCH_INSIDE_OUT_FROM) == 2 * TORCH_INSIDE_OUT_FROM


@pytest.mark.skipif(not LARGE, reason="~2.6 GB and minutes: SEED_AUTHORITY_LARGE_TESTS=1")
@pytest.mark.parametrize("n", [TORCH_INSIDE_OUT_FROM - 1, TORCH_INSIDE_OUT_FROM,
                               TORCH_INSIDE_OUT_FROM + 12345])
def test_torch_permutation_values_on_both_sides_of_the_switch(n: int) -> None:
    service = _service(chunk_bytes=1 << 20, cache_bytes=1 << 30)
    perm = resolve_permutation("torch-cpu", n, 99)
    ours = service.full(perm)
    expected = shuffle_oracle.permutation("torch-cpu", n, 99)
    assert np.array_equal(ours, expected)


def test_limits_refuse_with_the_parameter() -> None:
    limits = PermutationLimits(max_n=1000, cache_bytes=4000, max_build_ms=1.0)
    with pytest.raises(LimitExceeded, match="over the limit of 1000"):
        resolve_permutation("torch-cpu", 1001, 1, limits=limits)
    with pytest.raises(LimitExceeded, match="memory budget"):
        resolve_permutation("python-random", 500, 1, limits=limits)  # its list of ints
    with pytest.raises(LimitExceeded, match="ms to build"):
        resolve_permutation("torch-cpu", 1000, 1, limits=PermutationLimits(max_build_ms=0.001))
    assert resolve_permutation("torch-cpu", 1000, 1, limits=limits).n == 1000


def test_cache_evicts_to_its_budget_and_rebuilds_exactly() -> None:
    n = 1000
    service = _service(cache_bytes=2 * 4 * n)  # room for two int32 permutations
    for seed in range(5):
        perm = resolve_permutation("numpy-pcg64", n, seed)
        assert np.array_equal(service.full(perm), shuffle_oracle.permutation("numpy-pcg64", n,
                                                                            seed))
    stats = service.cache.stats()
    assert stats.bytes <= stats.max_bytes
    assert stats.arrays == 2
    assert stats.evictions == 3
    again = resolve_permutation("numpy-pcg64", n, 0)  # evicted: built again, same values
    assert np.array_equal(service.full(again), shuffle_oracle.permutation("numpy-pcg64", n, 0))


def test_concurrent_requests_build_once_and_stay_within_budget() -> None:
    cache = IndexCache(max_bytes=1000, wait_s=10)
    builds: list[int] = []
    peak = [0]
    lock = threading.Lock()

    def build(key: int) -> np.ndarray:
        with lock:
            builds.append(key)
        peak[0] = max(peak[0], cache.stats().bytes)
        time.sleep(0.05)
        return np.full(100, key, dtype=np.int32)  # 400 bytes

    results: list[int] = []

    def worker(key: int) -> None:
        results.append(int(cache.get(key, 400, lambda: build(key))[0]))

    threads = [threading.Thread(target=worker, args=(k % 3,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(k % 3 for k in range(12))
    assert peak[0] <= 1000
    assert cache.stats().bytes <= 1000
    assert len(builds) >= 3


def test_a_failed_build_releases_its_reservation() -> None:
    cache = IndexCache(max_bytes=100)

    def boom() -> np.ndarray:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get("k", 80, boom)
    assert cache.stats().bytes == 0
    assert cache.get("k", 80, lambda: np.zeros(20, dtype=np.int32)).nbytes == 80
