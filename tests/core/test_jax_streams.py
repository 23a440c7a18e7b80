"""jax-threefry core (app.core.jax) against jax.random itself, called directly."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import InvalidParameter
from app.core.jax import _threefry, sampling
from app.core.jax.keys import SEED_MAX, WORD_MAX, Key, key_code, seed_key
from tests.support import jax_oracle as jo
from tests.support.jax_strategies import (
    DEEP,
    DISTS,
    SPAWN,
    bitwise,
    randint_bounds,
    uniform_bounds,
)

N = 2048
"""Size of the reference calls: one compiled shape per dtype; slices lie inside it."""

# Random123's known-answer vectors for threefry2x32_20 (kat_vectors: ctr, key -> out),
# the ones JAX's own tests use.
KAT = [
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((WORD_MAX, WORD_MAX), (WORD_MAX, WORD_MAX), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize(("ctr", "key", "out"), KAT)
def test_random123_known_answers(ctr: tuple[int, int], key: tuple[int, int],
                                 out: tuple[int, int]) -> None:
    assert _threefry.hash(*key, *ctr) == out
    assert jo.threefry_2x32(key, ctr) == out


@settings(max_examples=max(60, DEEP))
@given(seed=st.one_of(st.integers(0, 2**32 + 5), st.integers(0, SEED_MAX)), x64=st.booleans(),
       spawn=SPAWN)
def test_key_derivation(seed: int, x64: bool, spawn: list[int]) -> None:
    key = seed_key(seed, x64).fold(spawn)
    assert key.words == jo.key_words(jo.make_key(seed, x64, spawn_key=spawn))


@settings(max_examples=max(20, DEEP))
@given(seed=st.integers(0, SEED_MAX), i=st.integers(0, 6))
def test_fold_in_is_split(seed: int, i: int) -> None:
    ref = jo.split(jo.make_key(seed, True), i + 1 + seed % 5)[i]
    assert seed_key(seed, True).fold_in(i).words == jo.key_words(ref)


def test_key_code_runs() -> None:
    ns: dict[str, Any] = {"jax": jo.jax}
    exec(f"{key_code(7, None, (3, 5))}", ns)
    assert jo.key_words(ns["key"]) == seed_key(7).fold([3, 5]).words
    exec(key_code(None, Key(1, 2), (4,)), ns)
    assert jo.key_words(ns["key"]) == Key(1, 2).fold_in(4).words


@st.composite
def keys(draw: st.DrawFn) -> tuple[Key, Any, bool]:
    """(our key, JAX's key, x64): from a seed under either x64 setting, or explicit words,
    with a fold_in chain."""
    x64 = draw(st.booleans())
    spawn = draw(SPAWN)
    if draw(st.booleans()):
        seed = draw(st.integers(0, SEED_MAX))
        return seed_key(seed, x64).fold(spawn), jo.make_key(seed, x64, spawn_key=spawn), x64
    words = (draw(st.integers(0, WORD_MAX)), draw(st.integers(0, WORD_MAX)))
    return Key(*words).fold(spawn), jo.make_key(None, x64, words, spawn), x64


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], Key, Any, bool]:
    key, ref_key, x64 = draw(keys())
    dist = draw(st.sampled_from(list(DISTS)))
    dtype = draw(st.sampled_from([d for d in DISTS[dist]
                                  if x64 or not sampling.x64_only(d)]))
    params: dict[str, Any] = {}
    if dist == "uniform":
        params = draw(uniform_bounds(dtype))
    elif dist == "randint":
        params = draw(randint_bounds(dtype, x64))
    return dist, dtype, params, key, ref_key, x64


def ours(dist: str, dtype: str, params: dict[str, Any], key: Key, x64: bool, start: int,
         n: int) -> np.ndarray[Any, Any]:
    return sampling.sample(dist, key, start, n, dtype, params, x64)


@settings(max_examples=max(150, DEEP))
@given(stream=streams(), data=st.data())
def test_slices_equal_jax(stream: tuple[str, str, dict[str, Any], Key, Any, bool],
                          data: st.DataObject) -> None:
    dist, dtype, params, key, ref_key, x64 = stream
    ref = jo.reference(dist, ref_key, N, dtype, params, x64)
    start = data.draw(st.integers(0, N))
    n = data.draw(st.integers(0, N - start))
    assert bitwise(ours(dist, dtype, params, key, x64, start, n), ref[start:start + n])
    # random partitions of the call concatenate to it
    cuts = sorted(data.draw(st.lists(st.integers(0, N), max_size=5)))
    edges = [0, *cuts, N]
    parts = [ours(dist, dtype, params, key, x64, a, b - a) for a, b in pairwise(edges)]
    assert bitwise(np.concatenate(parts), ref)


@settings(max_examples=max(25, DEEP))
@given(stream=streams(), offset=st.one_of(st.integers(2**32 - 300, 2**32 + 300),
                                          st.integers(0, 2**64 - 64),
                                          st.just(2**64 - 64)))
def test_far_offsets_through_the_primitive(stream: tuple[str, str, dict[str, Any], Key, Any,
                                                         bool], offset: int) -> None:
    """Elements past 2**32 (up to the end of the counter space): JAX's own transforms on bits
    whose counter starts at the offset."""
    dist, dtype, params, key, _, x64 = stream
    ref_key = jo.make_key(None, x64, key.words, impl=jo.shifted(offset))
    ref = jo.reference(dist, ref_key, 64, dtype, params, x64)
    assert bitwise(ours(dist, dtype, params, key, x64, offset, 64), ref)


def test_shifted_oracle_agrees_with_jax() -> None:
    """The far-offset oracle at offset 100 is jax.random's own call from element 100."""
    base = jo.make_key(7, False)
    ref = jo.reference("uniform", base, 164, "float32", {}, False)[100:]
    shifted = jo.make_key(None, False, jo.key_words(base), impl=jo.shifted(100))
    assert bitwise(jo.reference("uniform", shifted, 64, "float32", {}, False), ref)


def test_window_ends_at_the_counter_space() -> None:
    key = seed_key(1)
    assert len(sampling.bits(key, 2**64 - 3, 3, "uint32")) == 3
    with pytest.raises(InvalidParameter, match="2\\*\\*64"):
        sampling.bits(key, 2**64 - 3, 4, "uint32")


@pytest.mark.parametrize(("x64", "bound"), [(False, 2**31), (True, 2**63)])
def test_randint_bounds_jax_cannot_take_are_refused(x64: bool, bound: int) -> None:
    with pytest.raises(InvalidParameter, match="maxval"):
        sampling.randint_plan(0, bound, "uint32", x64)
    with pytest.raises(InvalidParameter, match="minval"):
        sampling.randint_plan(-bound - 1, 0, "int32", x64)
    with pytest.raises(OverflowError):
        jo.reference("randint", jo.make_key(0, x64), 4, "uint32", {"minval": 0, "maxval": bound},
                     x64)


@pytest.mark.parametrize(("lo", "hi", "name"), [(0.0, 0.0, "maxval"), (1.0, -1.0, "maxval"),
                                                (-1e39, 0.0, "minval"),
                                                (-3e38, 3e38, "maxval"),
                                                (1e-45, 1.0, "minval"),
                                                (1.2e-38, 1.3e-38, "maxval")])
def test_uniform_bounds_refused(lo: float, hi: float, name: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        sampling.check_uniform(lo, hi, "float32")
    assert err.value.parameter == name


def test_normal_without_jax_is_a_501(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "jax_available", lambda: False)
    with pytest.raises(sampling.NeedsJax) as err:
        sampling.normal(seed_key(0), 0, 3, "float32")
    assert err.value.status == 501
    assert "seed-authority[jax]" in err.value.reason
