"""A toy engine, defined entirely here: what adding an engine takes (README "Development").

Its "library" is ``ToyRng``, a splitmix64 counter generator (element i depends only on the
seed and i), so it can seek by counter arithmetic.
"""

from __future__ import annotations

import numpy as np

from app.core.dtypes import DType
from app.core.params import UNIFORM_PARAMS, check_uniform
from app.core.spec import (
    Array,
    Distribution,
    GeneratorEngine,
    Param,
    Params,
    RandomAccess,
    SeedInput,
    int_seed,
)

GOLDEN = 0x9E3779B97F4A7C15
MASK = 2**64 - 1


class ToyRng:
    """splitmix64: word i is mix(seed + (i + 1) * GOLDEN)."""

    def __init__(self, seed: int, index: int = 0) -> None:
        self.seed, self.index = seed, index

    def words(self, n: int) -> np.ndarray:
        i = np.arange(self.index + 1, self.index + n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = np.uint64(self.seed) + i * np.uint64(GOLDEN)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        self.index += n
        out: np.ndarray = z ^ (z >> np.uint64(31))
        return out

    def uniform(self, low: float, high: float, n: int) -> Array:
        unit = (self.words(n) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        out: Array = low + (high - low) * unit
        return out


def _uniform(rng: ToyRng, p: Params, dt: DType, n: int) -> Array:
    return rng.uniform(float(p["low"]), float(p["high"]), n)


class ToyEngine(GeneratorEngine[ToyRng, tuple[int, int]]):
    name = "toy-splitmix"
    library = "tests.support.toy"
    bit_generator = "splitmix64"
    seed_max = 2**64 - 1
    imports = "from tests.support.toy import ToyRng"
    setup = "r = ToyRng({seed})"
    doc = "A toy engine defined in a test module."
    state_nbytes = 64
    access = RandomAccess("counter", "counter arithmetic: word i is mix(seed + (i+1)*golden)")
    seed_bits = 64

    def new(self, seed: SeedInput) -> ToyRng:
        return ToyRng(int_seed(seed))

    def save(self, rng: ToyRng) -> tuple[int, int]:
        return rng.seed, rng.index

    def restore(self, state: tuple[int, int]) -> ToyRng:
        return ToyRng(*state)

    def jumped(self, seed: SeedInput, units: int) -> ToyRng:
        return ToyRng(int_seed(seed), units // 2)


def toy_engine(extra: tuple[Param, ...] = ()) -> ToyEngine:
    """The toy engine, its uniform optionally taking extra (ignored) parameters."""
    return ToyEngine({"uniform": Distribution(
        name="uniform", params=UNIFORM_PARAMS + extra, dtypes=("float64",),
        default_dtype="float64", draw=_uniform, check=check_uniform, cost_ns=5,
        call=lambda p, dt, n: f"r.uniform({p['low']!r}, {p['high']!r}, {n})",
        units=lambda p, dt: 2, access_with_seek="direct")})
