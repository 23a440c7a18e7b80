"""Exact MT19937 jump-ahead by any number of 32-bit outputs, on a 624-word state array.

The arithmetic is in the C kernel ``_mt19937`` (see its header comment); this module
gives it the characteristic polynomial and NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.core.jump import _mt19937  # type: ignore[attr-defined]
from app.core.jump.polynomial import PHI_LOW_TERMS

Key = npt.NDArray[np.uint32]
N = 624
SMALL_JUMP = 2**21
"""Below this many words the kernel runs the recurrence forward instead (see _mt19937.c)."""


def jump_cost_ns(words: int) -> float:
    """Estimated cost of a seek by ``words``, generator set-up included (bench/offsets.py:
    0.3 ms for 2e5 words, 1 ms for 2e6, 2-5 ms for 1e12..2**64)."""
    return 2e5 + 0.6 * words if words < SMALL_JUMP else 3e6
JUMP_DOC = ("GF(2) polynomial jump: x^k mod the characteristic polynomial, applied to the "
            "state; exact for any number k of 32-bit outputs")
_TERMS = np.array(PHI_LOW_TERMS, dtype=np.int32).tobytes()


def jump(key: Key, pos: int, k: int) -> Key:
    """The state array k outputs after the state (key, pos), whose next output is key[pos].

    The result's next output is its word 1 (``pos = 1`` for numpy and CPython; torch:
    ``next = 1, left = 624``). ``pos`` must be 1..624 (624: the array is spent and the
    next output comes after a twist, as right after seeding).
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    k_bytes = k.to_bytes(max(1, (k.bit_length() + 7) // 8), "little")
    words = np.ascontiguousarray(key, dtype=np.uint32)
    out = _mt19937.jump(words.tobytes(), pos, k_bytes, _TERMS)
    return np.frombuffer(out, dtype=np.uint32).copy()
