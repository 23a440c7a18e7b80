"""Slices against the real libraries, called directly (tests/support/oracle.py)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from app.core.registry import ENGINES
from app.core.spec import Number
from app.core.streams import StreamService
from tests.support.gpu_model import reference_runs_here
from tests.support.oracle import reference, run_reference, same_bits
from tests.support.services import NAMES, path_service
from tests.support.strategies import CORE_ENTRIES, streams


def _slice(svc: StreamService, s: tuple[str, str, str, int, dict[str, Number]], offset: int,
           count: int) -> np.ndarray:
    engine, dist, dtype, seed, params = s
    return svc.slice(engine, dist, seed, offset, count, dtype, (), **params)


@given(streams(), st.integers(0, 3000), st.lists(st.integers(0, 400), min_size=1, max_size=5),
       st.sampled_from(NAMES))
def test_partitioned_slices_equal_one_library_call(
        s: tuple[str, str, str, int, dict[str, Number]], offset: int, parts: list[int],
        path: str) -> None:
    """slice(a, m) ++ slice(a+m, n) == slice(a, m+n) == reference(a+m+n)[a:], bit for bit."""
    engine, dist, dtype, seed, params = s
    total = sum(parts)
    expected = reference(engine, dist, seed, offset + total, dtype, params, start=offset)
    svc = path_service(path)
    pieces, pos = [], offset
    for n in parts:
        pieces.append(_slice(svc, s, pos, n))
        pos += n
    joined = np.concatenate(pieces)
    assert same_bits(joined, expected)
    assert same_bits(_slice(StreamService(), s, offset, total), expected)


@given(streams(), st.integers(0, 500), st.integers(0, 300))
def test_reference_code_reproduces_the_slice(
        s: tuple[str, str, str, int, dict[str, Number]], offset: int, count: int) -> None:
    """The Python shown in every response, run as is, gives the served values."""
    from app.core.streams import resolve

    engine, dist, dtype, seed, params = s
    if engine == "torch-cuda" and not reference_runs_here(params):
        return  # the reference runs on a GPU of the profile: scripts/compare_cuda.py there
    stream = resolve(engine, dist, seed, dtype, params)
    x = run_reference(stream.reference(offset, offset + count), stream.dtype.storage)
    assert same_bits(x, _slice(StreamService(), s, offset, count))


@pytest.mark.parametrize(("engine", "dist", "dtype"), CORE_ENTRIES)
def test_every_entry_matches_far_into_the_stream(engine: str, dist: str, dtype: str) -> None:
    """Deterministic coverage of every core entry (uniform, normal, integers), with slices
    across chunk borders; tests/core/test_methods.py does the libraries' own names."""
    spec = ENGINES[engine].distributions[dist]
    params: dict[str, Any] = {p.name: p.default for p in spec.params}
    if dist == "integers":
        params = {"low": 0, "high": 100}
    svc = StreamService()
    svc_small_chunks = StreamService(type(svc.limits)(chunk_bytes=4096))
    n = 20_000 if engine in ("python-random", "torch-cuda") else 100_000
    expected = reference(engine, dist, 12345, n, dtype, params)
    for service in (svc, svc_small_chunks):
        got = np.concatenate([_slice(service, (engine, dist, dtype, 12345, params), a, b - a)
                              for a, b in [(0, 1), (1, 17), (17, 5000), (5000, n - 3), (n - 3, n)]])
        assert same_bits(got, expected)
    # a cold start far in, no checkpoint on the way
    assert same_bits(_slice(StreamService(), (engine, dist, dtype, 12345, params), n - 777, 777),
                     expected[n - 777:])


def test_issue_examples_numpy_legacy_uniform() -> None:
    svc = StreamService()
    np.testing.assert_array_equal(svc.slice("numpy-legacy", "uniform", 7, 0, 3),
                                  [0.07630828937395717, 0.7799187922401146, 0.4384092314408935])
    np.random.seed(7)
    first, second = np.random.rand(3), np.random.rand(3)
    assert same_bits(svc.slice("numpy-legacy", "uniform", 7, 0, 3), first)
    assert same_bits(svc.slice("numpy-legacy", "uniform", 7, 3, 3), second)
    np.random.seed(7)
    assert same_bits(svc.slice("numpy-legacy", "uniform", 7, 0, 5), np.random.rand(5))
    np.random.seed(1)
    assert same_bits(svc.slice("numpy-legacy", "uniform", 1, 0, 3), np.random.rand(3))
    assert same_bits(svc.slice("numpy-legacy", "uniform", 1, 3, 3), np.random.rand(3))
    np.testing.assert_allclose(np.asarray(svc.slice("numpy-legacy", "uniform", 1, 0, 6),
                                          dtype=np.float64),
                               np.array([4.17022005e-01, 7.20324493e-01, 1.14374817e-04,
                                0.30233257, 0.14675589, 0.09233859]), rtol=1e-7)


def test_global_seeding_routes_equal_the_engines() -> None:
    """random.seed / np.random.seed / torch.manual_seed give the engines' streams."""
    svc = StreamService()
    random.seed(99)
    assert same_bits(svc.slice("python-random", "uniform", 99, 0, 10),
                     np.array([random.random() for _ in range(10)]))
    assert same_bits(svc.slice("numpy-pcg64", "uniform", 99, 0, 10),
                     np.random.default_rng(99).random(10))
    state = torch.get_rng_state()
    try:
        torch.manual_seed(99)
        assert same_bits(svc.slice("torch-cpu", "uniform", 99, 0, 10), torch.rand(10).numpy())
        torch.manual_seed(99)
        assert same_bits(svc.slice("torch-cpu", "normal", 99, 10 * 16, 32),
                         torch.randn(16 * 12)[160:].numpy())
        torch.manual_seed(2**40 + 5)
        assert same_bits(svc.slice("torch-cpu", "integers", 2**40 + 5, 0, 10, low=0, high=7),
                         torch.randint(0, 7, (10,)).numpy())
    finally:
        torch.set_rng_state(state)


def test_torch_normal_needs_whole_blocks() -> None:
    """Why the stream is defined on multiples of 16: torch redraws a partial tail block."""
    g = torch.Generator().manual_seed(0)
    a = torch.empty(20).normal_(generator=g)
    g = torch.Generator().manual_seed(0)
    b = torch.empty(16).normal_(generator=g)
    assert not torch.equal(a[:16], b)
    svc = StreamService()
    got = svc.slice("torch-cpu", "normal", 0, 0, 20)
    assert same_bits(got, reference("torch-cpu", "normal", 0, 20, "float32",
                                    {"loc": 0.0, "scale": 1.0}))
    g = torch.Generator().manual_seed(0)
    assert same_bits(got[:16], torch.empty(16).normal_(generator=g).numpy())
