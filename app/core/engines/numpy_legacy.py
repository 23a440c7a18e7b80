"""``numpy-legacy``: ``np.random.RandomState(seed)``, the generator behind ``np.random.seed``."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from app.core.dtypes import DType
from app.core.jump.mt19937 import JUMP_DOC, jump, jump_cost_ns
from app.core.jump.widths import masked_power_of_two_words
from app.core.methods.numpy_methods import legacy_distributions
from app.core.params import (
    INTEGER_PARAMS,
    NORMAL_PARAMS,
    SMALL_INT_BUFFER,
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

RS = np.random.RandomState


class _NoEntropy(np.random.bit_generator.ISeedSequence):
    """Zeros for a bit generator's initial state, instead of the OS entropy and SeedSequence
    hashing that ``RandomState()`` spends ~200 us on before its seed overwrites them. A list,
    not an array: ``MT19937.__init__`` copies the words one by one with ``val[i]``, which on
    an array makes 623 NumPy scalars (~75 us) and on a list none (~5 us)."""

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> Any:
        return [0] * n_words


_ZEROS = _NoEntropy()


def seeded(seed: int) -> RS:
    """``np.random.RandomState(seed)``, bit for bit, at a fraction of its cost: the same
    init_genrand seeding (``RandomState.seed``) on a bit generator built without entropy."""
    rs = RS(np.random.MT19937(cast(np.random.SeedSequence, _ZEROS)))  # any ISeedSequence
    rs.seed(seed)
    return rs
FLOAT64_ONLY = "RandomState makes float64 only; use a numpy Generator engine for float32"
SMALL_INTS = {d: SMALL_INT_BUFFER.format(lib="RandomState.randint")
              for d in ("int8", "int16", "uint8", "uint16")}


def _uniform(rs: RS, p: Params, dt: DType, n: int) -> Array:
    if p["low"] == 0.0 and p["high"] == 1.0:
        # uniform(0, 1) is low + (high - low) * x = 0.0 + 1.0 * x: x itself, bit for bit,
        # from the same draws; random_sample skips the arithmetic (~9% faster; tested in
        # tests/core/test_uniform_identity.py against the library)
        return rs.random_sample(n)
    return rs.uniform(p["low"], p["high"], n)


def _normal(rs: RS, p: Params, dt: DType, n: int) -> Array:
    return rs.normal(p["loc"], p["scale"], n)


def _integers(rs: RS, p: Params, dt: DType, n: int) -> Array:
    out: Array = rs.randint(int(p["low"]), int(p["high"]), n,
                            dtype=dt.name)  # type: ignore[call-overload]
    return out



class NumpyLegacy(GeneratorEngine[RS, dict[str, Any]]):
    name = "numpy-legacy"
    library = "numpy"
    bit_generator = "MT19937 (init_genrand seeding)"
    seed_max = 2**32 - 1
    imports = "import numpy as np"
    setup = "rs = np.random.RandomState({seed})  # == np.random.seed({seed})"
    state_nbytes = 3_000
    access = RandomAccess("jump", JUMP_DOC, jump_cost_ns)
    state = StateExport(
        "numpy.random_state",
        "rs = np.random.RandomState()\n"
        "rs.set_state((state[0], np.array(state[1], dtype=np.uint32), *state[2:]))")
    seed_bits = 32
    seeding = GlobalSeeding("numpy", (SeedingStep(
        "np.random.seed({seed})", "NumPy's legacy global generator (np.random.*).",
        "None; code using np.random.default_rng needs the Generator seed instead."),))
    doc = ("NumPy's legacy RandomState; np.random.seed(s) followed by np.random.* gives the same "
           "stream. Seeds 0..2**32-1.")

    def new(self, seed: SeedInput) -> RS:
        return seeded(int_seed(seed))

    def save(self, rs: RS) -> dict[str, Any]:
        return rs.get_state(legacy=False)

    def restore(self, state: dict[str, Any]) -> RS:
        rs = seeded(0)
        rs.set_state(state)
        return rs

    def export(self, rs: RS) -> JSONValue:
        state = rs.get_state(legacy=False)
        return ["MT19937", state["state"]["key"].tolist(), int(state["state"]["pos"]),
                int(state["has_gauss"]), float(state["gauss"])]

    def jumped(self, seed: SeedInput, units: int) -> RS:
        rs = seeded(int_seed(seed))
        if units:
            st = rs.get_state(legacy=False)
            key = jump(st["state"]["key"], st["state"]["pos"], units)
            rs.set_state({"bit_generator": "MT19937", "state": {"key": key, "pos": 1},
                          "has_gauss": 0, "gauss": 0.0})
        return rs


ENGINE = NumpyLegacy(
    {
        "uniform": Distribution(
            name="uniform", params=UNIFORM_PARAMS, dtypes=("float64",), default_dtype="float64",
            draw=_uniform, check=check_uniform, cost_ns=12,
            call=lambda p, dt, n: f"rs.uniform({p['low']!r}, {p['high']!r}, {n})",
            refused_dtypes={"float32": FLOAT64_ONLY},
            units=lambda p, dt: 2, access_with_seek="direct",
            notes="2 draws per element."),
        "normal": Distribution(
            name="normal", params=NORMAL_PARAMS, dtypes=("float64",), default_dtype="float64",
            draw=_normal, check=check_normal, cost_ns=35,
            call=lambda p, dt, n: f"rs.normal({p['loc']!r}, {p['scale']!r}, {n})",
            refused_dtypes={"float32": FLOAT64_ONLY},
            notes="Polar Box-Muller with rejection; the second value of a pair is kept in the "
                  "saved state."),
        "integers": Distribution(
            name="integers", params=INTEGER_PARAMS,
            dtypes=("int64", "int32", "uint64", "uint32"), default_dtype="int64",
            draw=_integers, check=check_integers, cost_ns=15,
            call=lambda p, dt, n: f"rs.randint({p['low']}, {p['high']}, {n}, dtype=np.{dt.name})",
            refused_dtypes=SMALL_INTS,
            units=lambda p, dt: masked_power_of_two_words(int(p["high"]) - int(p["low"])),
            access_with_seek="direct when high - low is a power of two (no draw is "
                             "rejected), else checkpointed",
            notes="Masked rejection sampling."),
        **legacy_distributions(),
    },
)
