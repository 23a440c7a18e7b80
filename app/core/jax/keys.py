"""JAX threefry2x32 keys, derived without JAX.

A key is two uint32 words (``jax.random.key_data(key)``). Under JAX's defaults
(``jax_default_prng_impl='threefry2x32'``, ``jax_threefry_partitionable=True``):

- ``jax.random.key(seed)`` turns a Python int into ``np.int64(seed)`` (seeds >= 2**63
  raise) and then into the words ``(seed >> 32, seed & 0xffffffff)`` of its 64 bits when
  ``jax_enable_x64`` is on; with x64 off the seed first wraps to int32 and the high word is
  always 0 (jax/_src/random/prng.py: random_seed; threefry2x32.py: _threefry_seed).
- ``jax.random.fold_in(key, d)`` hashes the counter pair (0, d), d a uint32
  (threefry2x32.py: _threefry_fold_in); in partitionable mode ``split(key, n)[i]`` equals
  ``fold_in(key, i)`` for any n > i (_threefry_split_foldlike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.jax import _threefry

SEED_MAX = 2**63 - 1
"""``jax.random.key`` takes Python ints up to the int64 maximum."""
WORD_MAX = 2**32 - 1


@dataclass(frozen=True)
class Key:
    """A threefry2x32 key: its two words (``jax.random.key_data``)."""

    hi: int
    lo: int

    def __post_init__(self) -> None:
        if not (0 <= self.hi <= WORD_MAX and 0 <= self.lo <= WORD_MAX):
            raise ValueError(f"key words must be uint32, got ({self.hi}, {self.lo})")

    @property
    def words(self) -> tuple[int, int]:
        return self.hi, self.lo

    def fold_in(self, data: int) -> Key:
        """``jax.random.fold_in(key, data)`` (= ``jax.random.split(key, n)[data]``)."""
        if not 0 <= data <= WORD_MAX:
            raise ValueError(f"fold_in data must be a uint32, got {data}")
        y0, y1 = _threefry.hash(self.hi, self.lo, 0, data)
        return Key(int(y0), int(y1))

    def fold(self, spawn_key: Sequence[int]) -> Key:
        """``fold_in(fold_in(key, s0), s1)...`` for each entry of spawn_key."""
        key = self
        for data in spawn_key:
            key = key.fold_in(data)
        return key


def seed_key(seed: int, x64: bool = False) -> Key:
    """The words of ``jax.random.key(seed)`` with ``jax_enable_x64`` set to ``x64``."""
    if not -(2**63) <= seed <= SEED_MAX:
        raise ValueError(f"jax.random.key takes int64 seeds, got {seed}")
    bits = seed % 2**64
    if not x64:
        return Key(0, bits & WORD_MAX)
    return Key(bits >> 32, bits & WORD_MAX)


def key_code(seed: int | None, key: Key | None, spawn_key: Sequence[int] = ()) -> str:
    """Python lines that make the key as a ``jax.random`` key (after ``import jax``)."""
    if key is not None:
        lines = ["key = jax.random.wrap_key_data(jax.numpy.array("
                 f"[{key.hi}, {key.lo}], dtype=jax.numpy.uint32))"]
    else:
        lines = [f"key = jax.random.key({seed})"]
    lines += [f"key = jax.random.fold_in(key, {d})" for d in spawn_key]
    return "\n".join(lines)
