"""JAX threefry2x32 keys, derived locally without JAX (``Authority.jax_key``).

``jax.random.key(seed)`` under JAX's defaults: the seed goes through ``np.int64``; with
``jax_enable_x64`` its two 32-bit halves are the key words, without it the seed wraps to
int32 and the high word is 0. ``jax.random.fold_in(key, d)`` is the threefry2x32 hash of the
counter (0, d) under the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MASK = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & MASK


def threefry2x32(key: tuple[int, int], counter: tuple[int, int]) -> tuple[int, int]:
    """Threefry-2x32 with 20 rounds (Random123; what JAX uses), on one counter pair."""
    ks = (key[0], key[1], key[0] ^ key[1] ^ 0x1BD11BDA)
    x0, x1 = (counter[0] + ks[0]) & MASK, (counter[1] + ks[1]) & MASK
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = (x0 + x1) & MASK
            x1 = _rotl(x1, r) ^ x0
        x0 = (x0 + ks[(i + 1) % 3]) & MASK
        x1 = (x1 + ks[(i + 2) % 3] + i + 1) & MASK
    return x0, x1


def seed_words(seed: int, x64: bool = False) -> tuple[int, int]:
    """The words of ``jax.random.key(seed)`` with ``jax_enable_x64`` set to ``x64``."""
    if not -(2**63) <= seed < 2**63:
        raise ValueError(f"jax.random.key takes int64 seeds, got {seed}")
    bits = seed % 2**64
    return (bits >> 32 if x64 else 0), bits & MASK


def fold_in(words: tuple[int, int], data: int) -> tuple[int, int]:
    """``jax.random.fold_in`` (= ``jax.random.split(key, n)[data]`` in partitionable mode)."""
    if not 0 <= data <= MASK:
        raise ValueError(f"fold_in data must be a uint32, got {data}")
    return threefry2x32(words, (0, data))


@dataclass(frozen=True)
class JaxKey:
    """A jax-threefry key: its words (``jax.random.key_data``) and, when JAX is importable,
    the ``jax.random`` key itself."""

    words: tuple[int, int]
    key: Any = None

    @property
    def query(self) -> str:
        """The words as the service's ``key=hi,lo`` parameter."""
        return f"{self.words[0]},{self.words[1]}"


def jax_key(seed: int | None = None, spawn_key: Sequence[int] = (), *, x64: bool = False,
            words: tuple[int, int] | None = None) -> JaxKey:
    """``jax.random.key(seed)`` (or the explicit ``words``) folded with each spawn_key entry."""
    if words is not None and seed is None:
        key = words
    elif seed is not None and words is None:
        key = seed_words(seed, x64)
    else:
        raise ValueError("give seed or words, exactly one")
    for d in spawn_key:
        key = fold_in(key, d)
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return JaxKey(key)
    return JaxKey(key, jax.random.wrap_key_data(jnp.array(key, dtype=jnp.uint32)))
