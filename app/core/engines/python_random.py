"""``python-random``: the standard library's ``random.Random(seed)`` (== ``random.seed(seed)``)."""

from __future__ import annotations

import random

import numpy as np

from app.core.dtypes import DType
from app.core.jump.mt19937 import JUMP_DOC, jump, jump_cost_ns
from app.core.methods.python_methods import distributions as method_distributions
from app.core.params import (
    INTEGER_PARAMS,
    NORMAL_PARAMS,
    UNIFORM_PARAMS,
    check_integers,
    check_normal,
    check_uniform,
)
from app.core.spec import (
    Array,
    Distribution,
    GeneratorEngine,
    GlobalSeeding,
    JSONValue,
    Params,
    RandomAccess,
    SeedingStep,
    SeedInput,
    StateExport,
    int_seed,
)

Rnd = random.Random
FLOAT64_ONLY = "random.Random makes Python floats (float64) only"
INT64_ONLY = "values are Python ints, served as int64"


def _uniform(r: Rnd, p: Params, dt: DType, n: int) -> Array:
    f, low, high = r.uniform, p["low"], p["high"]
    return np.array([f(low, high) for _ in range(n)], dtype=np.float64)


def _normal(r: Rnd, p: Params, dt: DType, n: int) -> Array:
    f, loc, scale = r.gauss, p["loc"], p["scale"]
    return np.array([f(loc, scale) for _ in range(n)], dtype=np.float64)


def _integers(r: Rnd, p: Params, dt: DType, n: int) -> Array:
    f, low, high = r.randrange, int(p["low"]), int(p["high"])
    return np.array([f(low, high) for _ in range(n)], dtype=np.int64)



State = tuple[int, Array, float | None]


class PythonRandom(GeneratorEngine[Rnd, State]):
    name = "python-random"
    library = "python"
    bit_generator = "MT19937 (init_by_array seeding)"
    seed_max = 2**64 - 1
    imports = "import random"
    setup = "r = random.Random({seed})  # == random.seed({seed})"
    state_nbytes = 3_000
    access = RandomAccess("jump", JUMP_DOC, jump_cost_ns)
    state = StateExport(
        "python.random", "r = random.Random()\nr.setstate((state[0], tuple(state[1]), state[2]))")
    seed_bits = 64
    seeding = GlobalSeeding("python", (SeedingStep(
        "random.seed({seed})", "Python's random module (and libraries that use it)."),))
    doc = ("Python's random module: random.Random(seed), the same stream as random.seed(seed) "
           "followed by random.*. Seeds 0..2**64-1. One library call per element.")

    def new(self, seed: SeedInput) -> Rnd:
        return Rnd(int_seed(seed))

    def save(self, r: Rnd) -> State:
        version, internal, gauss_next = r.getstate()
        # 625 Python ints cost ~25 kB; as a uint32 array they cost 2.5 kB.
        return version, np.array(internal, dtype=np.uint32), gauss_next

    def restore(self, state: State) -> Rnd:
        version, internal, gauss_next = state
        r = Rnd(0)
        r.setstate((version, tuple(internal.tolist()), gauss_next))
        return r

    def export(self, r: Rnd) -> JSONValue:
        version, internal, gauss_next = r.getstate()
        return [version, list(internal), gauss_next]

    def jumped(self, seed: SeedInput, units: int) -> Rnd:
        r = Rnd(int_seed(seed))
        if units:
            version, internal, _ = r.getstate()
            key = jump(np.array(internal[:624], dtype=np.uint32), internal[624], units)
            r.setstate((version, (*key.tolist(), 1), None))
        return r


ENGINE = PythonRandom(
    {
        "uniform": Distribution(
            name="uniform", params=UNIFORM_PARAMS, dtypes=("float64",), default_dtype="float64",
            draw=_uniform, check=check_uniform, cost_ns=200,
            call=lambda p, dt, n: f"[r.uniform({p['low']!r}, {p['high']!r}) for _ in range({n})]",
            refused_dtypes={"float32": FLOAT64_ONLY},
            units=lambda p, dt: 2, access_with_seek="direct",
            notes="random.random: 2 words per element."),
        "normal": Distribution(
            name="normal", params=NORMAL_PARAMS, dtypes=("float64",), default_dtype="float64",
            draw=_normal, check=check_normal, cost_ns=600,
            call=lambda p, dt, n: f"[r.gauss({p['loc']!r}, {p['scale']!r}) for _ in range({n})]",
            refused_dtypes={"float32": FLOAT64_ONLY},
            notes="random.gauss: Box-Muller; the second value of a pair is kept in the state."),
        "integers": Distribution(
            name="integers", params=INTEGER_PARAMS, dtypes=("int64",), default_dtype="int64",
            draw=_integers, check=check_integers, cost_ns=700,
            call=lambda p, dt, n: f"[r.randrange({p['low']}, {p['high']}) for _ in range({n})]",
            refused_dtypes=dict.fromkeys(
                ("int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64"), INT64_ONLY),
            notes="random.randrange: getrandbits with rejection."),
        **method_distributions(),
    },
)
