"""JAX itself, called directly: the reference the jax-threefry streams are tested against.

``reference`` is ``jax.random.<dist>(key, (n,), ...)`` under the x64 setting asked for.
``shifted`` is a PRNG implementation whose ``random_bits`` starts the partitionable
counter at an offset (through the ``threefry2x32`` primitive): with it, JAX's own
``uniform``/``randint``/``normal`` transforms produce elements [offset, offset + n) of a
stream, which reaches offsets a single ``jax.random`` call cannot (past 2**32, up to the end
of the 2**64 counter space).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the jax extra (make install-dev) is not installed")
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402
from jax import random as jr  # noqa: E402
from jax.extend import random as jex  # noqa: E402

Array = np.ndarray[Any, Any]
CALLS: dict[str, Callable[..., Any]] = {
    "bits": jr.bits, "uniform": jr.uniform, "randint": jr.randint, "normal": jr.normal}


def make_key(seed: int | None, x64: bool, words: tuple[int, int] | None = None,
             spawn_key: Sequence[int] = (), impl: Hashable | None = None) -> Any:
    """``jax.random.key(seed)`` (or the explicit words), folded with each spawn_key entry."""
    with jax.enable_x64(x64):
        if words is None:
            assert seed is not None
            data = jr.key_data(jr.key(seed))
        else:
            data = jnp.array(words, dtype=jnp.uint32)
        key = jr.wrap_key_data(data, impl=impl) if impl is not None else jr.wrap_key_data(data)
        for d in spawn_key:
            key = jr.fold_in(key, d)
        return key


def split(key: Any, n: int) -> Any:
    return jr.split(key, n)


def threefry_2x32(key: tuple[int, int], ctr: tuple[int, int]) -> tuple[int, int]:
    """JAX's threefry2x32 hash of one counter pair."""
    y0, y1 = jex.threefry_2x32(np.array(key, np.uint32), np.array(ctr, np.uint32))
    return int(y0), int(y1)


def key_words(key: Any) -> tuple[int, int]:
    hi, lo = (int(w) for w in jr.key_data(key))
    return hi, lo


def reference(dist: str, key: Any, n: int, dtype: str, params: dict[str, Any],
              x64: bool) -> Array:
    """``jax.random.<dist>(key, (n,), dtype=dtype, **params)`` as a NumPy array."""
    with jax.enable_x64(x64):
        out = CALLS[dist](key, (n,), dtype=jnp.dtype(dtype), **params)
        return np.asarray(out)


def _shifted_bits(offset: int, key: Any, bit_width: int, shape: tuple[int, ...]) -> Any:
    """``_threefry_random_bits_partitionable`` with counters offset..offset+n-1."""
    n = int(np.prod(shape))
    o_hi, o_lo = np.uint32(offset >> 32), np.uint32(offset & 0xFFFFFFFF)
    lo = lax.iota(jnp.uint32, n) + o_lo
    hi = o_hi + (lo < o_lo).astype(jnp.uint32)  # carry into the high word
    k1, k2 = key
    b1, b2 = jex.threefry2x32_p.bind(k1, k2, hi, lo)  # type: ignore[no-untyped-call]
    if bit_width == 64:
        out = (b1.astype(jnp.uint64) << jnp.uint64(32)) | b2.astype(jnp.uint64)
    elif bit_width == 32:
        out = b1 ^ b2
    else:
        out = (b1 ^ b2).astype(jnp.dtype(f"uint{bit_width}"))
    return out.reshape(shape)


@cache
def shifted(offset: int) -> Hashable:
    """JAX's threefry2x32 with the bits counter starting at ``offset`` (keys, split and
    fold_in unchanged)."""
    impl = jex.threefry_prng_impl
    return jex.define_prng_impl(
        key_shape=(2,), seed=impl.seed, split=impl.split, fold_in=impl.fold_in,
        random_bits=lambda key, bit_width, shape: _shifted_bits(offset, key, bit_width, shape),
        name=f"threefry2x32@{offset}", tag="fro")
