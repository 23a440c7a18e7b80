"""Jump-ahead against brute force and the libraries' own streams."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter, LimitExceeded
from app.core.jump.mt19937 import jump
from app.core.jump.polynomial import DEGREE, PHI_LOW_TERMS
from app.core.registry import ENGINES
from app.core.spec import GeneratorEngine
from app.core.streams import Limits, StreamService, resolve
from tests.support.oracle import CORE, reference, same_bits
from tests.support.strategies import GPU_ONLY, OWN_TESTS

MT_ENGINES = ["numpy-legacy", "numpy-mt19937", "python-random", "torch-cpu"]
JUMPS = [0, 1, 623, 624, 625, 1247, 1248, 19937, 1_000_003, 9_999_991]


def berlekamp_massey(bits: list[int]) -> int:
    """Connection polynomial (bit i = coefficient of x^i) of a GF(2) sequence."""
    c, b, length, m, window = 1, 1, 0, 1, 0
    for n, s in enumerate(bits):
        window = window << 1 | s
        if (c & window).bit_count() & 1 == 0:
            m += 1
        elif 2 * length <= n:
            c, b, length, m = c ^ b << m, c, n + 1 - length, 1
        else:
            c ^= b << m
            m += 1
    return c


def test_characteristic_polynomial_is_mt19937s() -> None:
    """Derive phi again from the real generator's output (its lowest bit)."""
    words = np.random.MT19937(2024).random_raw(2 * DEGREE + 64)
    c = berlekamp_massey([int(w) & 1 for w in words])
    assert c.bit_length() == DEGREE + 1
    reciprocal = {DEGREE - i for i in range(DEGREE + 1) if c >> i & 1}
    assert reciprocal == {*PHI_LOW_TERMS, DEGREE}


def _words(engine: str, gen: Any, n: int) -> np.ndarray:
    """n raw 32-bit outputs drawn through the library, one word each."""
    if engine == "numpy-legacy":
        return np.asarray(gen.randint(0, 2**32, n, dtype=np.uint64))
    if engine == "numpy-mt19937":
        return np.asarray(gen.bit_generator.random_raw(n), dtype=np.uint64) & 0xFFFFFFFF
    if engine == "python-random":
        return np.array([gen.getrandbits(32) for _ in range(n)], dtype=np.uint64)
    return torch.randint(0, 2, (n,), generator=gen).numpy()  # 1 word each, parity only


@pytest.mark.parametrize("engine", MT_ENGINES)
@pytest.mark.parametrize("k", JUMPS)
def test_jump_equals_brute_force(engine: str, k: int) -> None:
    _check_jump(engine, 987654321, k)


@pytest.mark.parametrize("engine", MT_ENGINES)
@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 10**7))
def test_jump_equals_brute_force_random(engine: str, seed: int, k: int) -> None:
    _check_jump(engine, seed, k)


def _check_jump(engine: str, seed: int, k: int) -> None:
    eng = ENGINES[engine]
    assert isinstance(eng, GeneratorEngine)
    assert eng.access.seekable
    brute = eng.new(seed)
    if engine == "python-random":
        brute.getrandbits(32 * k) if k else None  # k words in one call
    else:
        _words(engine, brute, k)
    jumped = eng.jumped(seed, k)
    assert np.array_equal(_words(engine, jumped, 3000), _words(engine, brute, 3000))


@given(st.integers(0, 2**32 - 1), st.integers(0, 5000), st.integers(0, 5000))
def test_jump_from_any_position_composes(seed: int, first: int, k: int) -> None:
    """From a mid-array state (any pos), jump(k) == draw k words; and jumps compose."""
    rs = np.random.RandomState(seed)
    rs.randint(0, 2**32, first, dtype=np.uint64)
    state = rs.get_state(legacy=False)
    key, pos = state["state"]["key"], state["state"]["pos"]
    if pos == 0:
        return
    moved = np.random.RandomState(0)
    moved.set_state({"bit_generator": "MT19937", "state": {"key": jump(key, pos, k), "pos": 1},
                     "has_gauss": 0, "gauss": 0.0})
    rs.randint(0, 2**32, k, dtype=np.uint64)
    assert np.array_equal(moved.randint(0, 2**32, 700, dtype=np.uint64),
                          rs.randint(0, 2**32, 700, dtype=np.uint64))


@pytest.mark.parametrize(("k1", "k2"), [(10**12, 10**12 + 7), (2**63, 2**63 - 1), (3, 2**64 - 1)])
def test_huge_jumps_compose(k1: int, k2: int) -> None:
    """jump(k1) then jump(k2) == jump(k1 + k2): different polynomials, same place."""
    key = np.random.RandomState(5).get_state(legacy=False)["state"]["key"]
    once = jump(key, 624, k1 + k2)
    twice = jump(jump(key, 624, k1), 1, k2)
    assert np.array_equal(once[1:], twice[1:])
    assert once[0] >> 31 == twice[0] >> 31


DIRECT = [(e.name, d.name, dt) for e in ENGINES.values() for d in e.distributions.values()
          for dt in d.dtypes
          if e.offset_access(d) != "checkpointed" and (e.name, d.name) not in GPU_ONLY
          and e.name not in OWN_TESTS
          and d.name in CORE]
"""The service's core streams; the libraries' own methods jump in tests/core/test_methods.py."""


def _params(dist: str, dtype: str, wide: bool) -> dict[str, Any]:
    if dist == "integers":
        high = 2**40 if wide and DTYPES[dtype].max >= 2**40 else 64
        return {"low": 0, "high": high}
    if dist == "uniform":
        return {"low": -3.0, "high": 5.5} if wide else {"low": 0.0, "high": 1.0}
    return {"loc": 1.5, "scale": 2.0} if wide else {"loc": 0.0, "scale": 1.0}


@pytest.mark.parametrize(("engine", "dist", "dtype"), DIRECT)
@given(offset=st.integers(0, 20_000), count=st.integers(0, 100), wide=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_seek_lands_on_the_element(engine: str, dist: str, dtype: str, offset: int, count: int,
                                   wide: bool, seed: int) -> None:
    """seek(seed, offset * words per element) + the library call == the reference slice."""
    try:
        stream = resolve(engine, dist, seed, dtype, _params(dist, dtype, wide))
    except InvalidParameter:  # e.g. numpy float32 uniforms exist only on [0, 1)
        return
    units = stream.units_per_element
    if units is None:
        return
    start = offset - offset % stream.dist.block
    cursor = stream.seek(start * units)
    n = stream.dist.reference_size(offset + count - start)
    got = cursor.draw(n)[offset - start:offset - start + count]
    expected = reference(engine, dist, seed, offset + count, dtype, dict(stream.params),
                         start=offset)
    assert same_bits(got, expected)


@pytest.mark.parametrize(("engine", "dist", "dtype"), DIRECT)
def test_service_jumps_far_and_matches_brute_force(engine: str, dist: str, dtype: str) -> None:
    """Beyond a few hundred thousand elements the service jumps; check against one library
    call generating the whole prefix."""
    params = _params(dist, dtype, wide=(dtype != "float32" or engine == "torch-cpu")
                     and engine != "torch-cuda")
    if engine == "numpy-legacy" and dist == "integers":
        low = 0 if DTYPES[dtype].min == 0 else -(2**20)
        params = {"low": low, "high": low + 2**21}  # a power-of-two width: direct
    offset = {"python-random": 400_000, "torch-cuda": 300_007}.get(engine, 2_000_003)
    svc = StreamService()
    got = svc.slice(engine, dist, 31337, offset, 1000, dtype, **params)
    expected = reference(engine, dist, 31337, offset + 1000, dtype, params, start=offset)
    assert same_bits(got, expected)


FAR = [10**12, 2**63 - 1000, 2**64 - 2000]


@pytest.mark.parametrize(("engine", "dist", "dtype"),
                         [e for e in DIRECT if ENGINES[e[0]].max_reference is None])
@pytest.mark.parametrize("offset", FAR)
def test_far_slices_agree_with_a_nearby_jump_and_concatenate(engine: str, dist: str, dtype: str,
                                                           offset: int) -> None:
    """At 10**12 and 2**63: the slice equals jumping to an earlier, block-aligned position
    and generating forward with the library, and joins its neighbours."""
    params = _params(dist, dtype, wide=False)
    svc = StreamService()
    here = svc.slice(engine, dist, 4242, offset, 1000, dtype, **params)
    before = svc.slice(engine, dist, 4242, offset - 333, 333, dtype, **params)
    both = StreamService().slice(engine, dist, 4242, offset - 333, 1333, dtype, **params)
    assert same_bits(np.concatenate([before, here]), both)
    stream = resolve(engine, dist, 4242, dtype, params)
    assert stream.units_per_element is not None
    back = offset - 4096 - offset % stream.dist.block
    cursor = stream.seek(back * stream.units_per_element)
    forward = cursor.draw(4096 + stream.dist.reference_size(offset % 16 + 1000))
    assert same_bits(forward[offset - back:offset - back + 1000], here)


def test_pcg_far_slices_use_numpys_own_advance() -> None:
    offset = 10**12 + 1
    got = StreamService().slice("numpy-pcg64", "uniform", 8, offset, 10, "float32")
    bitgen = np.random.PCG64(8)
    bitgen.advance(offset // 2)
    rng = np.random.Generator(bitgen)
    rng.random(1, dtype=np.float32)  # the low half of draw offset // 2 is element offset - 1
    assert same_bits(got, rng.random(10, dtype=np.float32))


def test_checkpointed_streams_refuse_far_cold_offsets_naming_direct_ones() -> None:
    svc = StreamService(Limits(max_skip_ms=50))
    stream = resolve("numpy-legacy", "normal", 1)
    with pytest.raises(Exception, match="direct access") as err:
        svc.open_slice(stream, 10**9, 5)
    assert "torch-cpu normal" in str(err.value)
    assert "numpy-sfc64" not in str(err.value)


def test_periodic_checkpoints_bound_the_cost_of_nearby_offsets() -> None:
    """After one pass over 3e6 normals, any offset inside is within one interval."""
    svc = StreamService(Limits(checkpoint_interval_ms=5))
    for off in range(0, 3_000_000, 1_000_000):
        svc.slice("numpy-legacy", "normal", 6, off, 1_000_000)
    interval = svc._interval(resolve("numpy-legacy", "normal", 6))
    assert svc.cache.stats().checkpoints >= 3_000_000 // interval
    tight = StreamService(Limits(max_skip_ms=6))
    tight.cache = svc.cache
    expected = reference("numpy-legacy", "normal", 6, 2_600_010, "float64",
                         {"loc": 0.0, "scale": 1.0})
    assert same_bits(tight.slice("numpy-legacy", "normal", 6, 2_600_000, 10), expected[-10:])
    with pytest.raises(Exception, match="offset"):
        tight.slice("numpy-legacy", "normal", 7, 2_600_000, 10)


def test_concurrent_requests_share_checkpoints_and_agree() -> None:
    svc = StreamService(Limits(checkpoint_interval_ms=1))
    span = 300_000
    streams = {
        ("numpy-legacy", "normal"): reference("numpy-legacy", "normal", 3, span, "float64",
                                              {"loc": 0.0, "scale": 1.0}),
        ("python-random", "normal"): reference("python-random", "normal", 3, span // 10,
                                               "float64", {"loc": 0.0, "scale": 1.0}),
        ("numpy-sfc64", "integers"): reference("numpy-sfc64", "integers", 3, span, "int64",
                                               {"low": 0, "high": 10}),
    }
    rnd = random.Random(1)
    jobs = []
    for _ in range(300):
        key = rnd.choice(list(streams))
        size = len(streams[key])
        off = rnd.randrange(size - 1)
        jobs.append((key, off, rnd.randrange(1, min(5000, size - off))))

    def run(job: tuple[tuple[str, str], int, int]) -> bool:
        (engine, dist), off, n = job
        extra: dict[str, float | int] = {"low": 0, "high": 10} if dist == "integers" else {}
        got = svc.slice(engine, dist, 3, off, n, None, (), **extra)
        return same_bits(got, streams[(engine, dist)][off:off + n])

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(run, jobs))
    assert svc.cache.stats().hits > 0


def test_the_seek_setting_forces_each_path() -> None:
    """``Limits.seek``: always a seek, never one, or the cheaper (the exactness properties
    run under the first two: tests/support/services.py)."""
    expected = reference("numpy-legacy", "normal", 5, 120, "float64", {"loc": 0.0, "scale": 1.0})
    jumped: list[str] = []
    for mode in ("always", "never", "auto"):
        svc = StreamService(Limits(seek=mode))
        svc.on_jump = lambda engine, seconds, m=mode: jumped.append(m)
        got = svc.slice("numpy-legacy", "uniform", 5, 100, 20)
        assert same_bits(got, reference("numpy-legacy", "uniform", 5, 120, "float64",
                                        {"low": 0.0, "high": 1.0})[100:])
        assert same_bits(svc.slice("numpy-legacy", "normal", 5, 100, 20), expected[100:])
        if mode == "never":
            with pytest.raises(LimitExceeded, match="offset"):
                svc.slice("numpy-legacy", "uniform", 5, 10**12, 3)
        else:
            svc.slice("numpy-legacy", "uniform", 6, 10**12, 3)
    # always: uniform at 100 and at 10**12; auto: only at 10**12; never: none; legacy
    # normal (variable draws per element) is never sought
    assert jumped == ["always", "always", "auto"]
