"""uniform(0, 1) is the standard uniform itself, bit for bit, from the same draws.

numpy computes ``uniform(low, high)`` as ``low + (high - low) * x`` for each standard double
x in [0, 1); with low = 0 (or -0) and high = 1 that is x exactly (``1.0 * x == x``,
``0.0 + x == x``, ``-0.0 + 0.0 == 0.0``), so the engines draw their default uniform with
``random_sample`` / ``Generator.random``, which skip the arithmetic. Checked here against the
library itself, over seeds, generator positions and lengths, for every numpy bit generator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

BIT_GENERATORS = [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox,
                  np.random.SFC64]


@given(seed=st.integers(0, 2**32 - 1), skip=st.integers(0, 3000), n=st.integers(0, 5000),
       low=st.sampled_from([0.0, -0.0, 0]))
def test_random_sample_is_legacy_uniform_0_1(seed: int, skip: int, n: int, low: float) -> None:
    a, b = np.random.RandomState(seed), np.random.RandomState(seed)
    a.random_sample(skip)
    b.random_sample(skip)
    x, y = a.random_sample(n), b.uniform(low, 1.0, n)
    assert x.tobytes() == y.tobytes()
    assert a.random_sample(3).tobytes() == b.random_sample(3).tobytes()  # same draws used


@pytest.mark.parametrize("bit_generator", BIT_GENERATORS)
@given(seed=st.integers(0, 2**64 - 1), skip=st.integers(0, 3000), n=st.integers(0, 5000),
       low=st.sampled_from([0.0, -0.0, 0]))
def test_random_is_generator_uniform_0_1(bit_generator: type[np.random.BitGenerator],
                                         seed: int, skip: int, n: int, low: float) -> None:
    a, b = np.random.Generator(bit_generator(seed)), np.random.Generator(bit_generator(seed))
    a.random(skip)
    b.random(skip)
    x, y = a.random(n), b.uniform(low, 1.0, n)
    assert x.tobytes() == y.tobytes()
    assert a.random(3).tobytes() == b.random(3).tobytes()


def test_the_edges_of_the_identity() -> None:
    x = np.array([0.0, 5e-324, 2.0**-53, 0.5, 1.0 - 2.0**-53])
    for low in (0.0, -0.0):
        assert (low + (1.0 - low) * x).tobytes() == x.tobytes()
