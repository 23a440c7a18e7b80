"""``numpy-pcg64`` and friends: ``np.random.Generator(BitGenerator(seed))``.

The bit generator is seeded through ``np.random.SeedSequence(seed)``, so
``numpy-pcg64`` with seed s is ``np.random.default_rng(s)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.jump.mt19937 import JUMP_DOC, jump, jump_cost_ns
from app.core.methods.numpy_methods import generator_distributions
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
    CHECKPOINT_ONLY,
    Array,
    Distribution,
    GeneratorEngine,
    GlobalSeeding,
    JSONValue,
    Params,
    RandomAccess,
    SeedInput,
    StateExport,
)

Gen = np.random.Generator
PCG_DOC = "the bit generator's own advance(d), d 64-bit draws; an odd 32-bit half buffered"
SMALL_INTS = {d: SMALL_INT_BUFFER.format(lib="Generator.integers")
              for d in ("int8", "int16", "uint8", "uint16")}


def _uniform(rng: Gen, p: Params, dt: DType, n: int) -> Array:
    if dt.name == "float32":
        return rng.random(n, dtype=np.float32)
    if p["low"] == 0.0 and p["high"] == 1.0:
        # 0.0 + 1.0 * x is x, bit for bit, from the same draws: Generator.random skips the
        # arithmetic (~1.4x faster; tests/core/test_uniform_identity.py)
        return rng.random(n)
    return rng.uniform(p["low"], p["high"], n)


def _normal(rng: Gen, p: Params, dt: DType, n: int) -> Array:
    if dt.name == "float32":
        return rng.standard_normal(n, dtype=np.float32)
    return rng.normal(p["loc"], p["scale"], n)


def _integers(rng: Gen, p: Params, dt: DType, n: int) -> Array:
    return rng.integers(int(p["low"]), int(p["high"]), n, dtype=dt.name)


def _uniform_call(p: Params, dt: DType, n: int | str) -> str:
    if dt.name == "float32":
        return f"rng.random({n}, dtype=np.float32)"
    return f"rng.uniform({p['low']!r}, {p['high']!r}, {n})"


def _normal_call(p: Params, dt: DType, n: int | str) -> str:
    if dt.name == "float32":
        return f"rng.standard_normal({n}, dtype=np.float32)"
    return f"rng.normal({p['loc']!r}, {p['scale']!r}, {n})"


def _check_uniform(p: Params, dt: DType) -> None:
    check_uniform(p, dt)
    if dt.name == "float32" and (p["low"] != 0 or p["high"] != 1):
        raise InvalidParameter(
            "dtype", "numpy makes float32 uniforms only on [0, 1) (Generator.random(dtype="
                     "np.float32)); use low=0, high=1 or dtype=float64")


def _check_normal(p: Params, dt: DType) -> None:
    check_normal(p, dt)
    if dt.name == "float32" and (p["loc"] != 0 or p["scale"] != 1):
        raise InvalidParameter(
            "dtype", "numpy makes float32 normals only with loc=0, scale=1 (Generator."
                     "standard_normal(dtype=np.float32)); use those or dtype=float64")


DISTRIBUTIONS: dict[str, Distribution[Gen]] = {
    "uniform": Distribution(
        name="uniform", params=UNIFORM_PARAMS, dtypes=("float64", "float32"),
        default_dtype="float64", draw=_uniform, call=_uniform_call, check=_check_uniform,
        cost_ns=8, units=lambda p, dt: 1 if dt.name == "float32" else 2, access_with_seek="direct",
        notes="float64: 1 draw per element. float32 (low=0, high=1 only): 32-bit halves; the "
              "spare half is part of the saved state."),
    "normal": Distribution(
        name="normal", params=NORMAL_PARAMS, dtypes=("float64", "float32"),
        default_dtype="float64", draw=_normal, call=_normal_call, check=_check_normal,
        cost_ns=20,
        notes="Ziggurat with rejection. float32 only as the standard normal (loc=0, scale=1)."),
    "integers": Distribution(
        name="integers", params=INTEGER_PARAMS, dtypes=("int64", "int32", "uint64", "uint32"),
        default_dtype="int64", draw=_integers, check=check_integers, cost_ns=10,
        call=lambda p, dt, n: f"rng.integers({p['low']}, {p['high']}, {n}, dtype=np.{dt.name})",
        refused_dtypes=SMALL_INTS,
        notes="Lemire's bounded rejection sampling; ranges up to 2**32 use 32-bit halves."),
    **generator_distributions(),
}


def _take_low_half(bitgen: np.random.BitGenerator) -> None:
    """Draw one 64-bit word and keep its high half buffered, as next_uint32 does after
    returning the low half: the next 32-bit draw is then the high half."""
    word = int(bitgen.random_raw())
    bitgen.state = {**bitgen.state, "has_uint32": 1, "uinteger": word >> 32}


def _jsonable(value: object) -> JSONValue:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not a JSON value: {type(value).__name__}")


Jump = Callable[[type[np.random.BitGenerator], SeedInput, int], np.random.BitGenerator]


def _pcg(cls: type[np.random.BitGenerator], seed: SeedInput,
         units: int) -> np.random.BitGenerator:
    """PCG64 and PCG64DXSM: advance(d) moves d 64-bit draws (2 units each)."""
    bitgen = cls(seed)
    draws, half = divmod(units, 2)
    bitgen.advance(draws)  # type: ignore[attr-defined]
    if half:
        _take_low_half(bitgen)
    return bitgen


def _philox(cls: type[np.random.BitGenerator], seed: SeedInput,
            units: int) -> np.random.BitGenerator:
    """Philox4x64: advance(d) moves d counter blocks of four 64-bit draws."""
    bitgen = np.random.Philox(seed)
    draws, half = divmod(units, 2)
    blocks, rest = divmod(draws, 4)
    bitgen.advance(blocks)
    if rest:
        bitgen.random_raw(rest)
    if half:
        _take_low_half(bitgen)
    return bitgen


def _mt19937(cls: type[np.random.BitGenerator], seed: SeedInput,
             units: int) -> np.random.BitGenerator:
    """MT19937 draws 32-bit words natively (no buffered half): jump by units words."""
    bitgen = np.random.MT19937(seed)
    if units:
        state = bitgen.state
        key = jump(state["state"]["key"], state["state"]["pos"], units)
        bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 1}}
    return bitgen


class NumpyGenerator(GeneratorEngine[Gen, dict[str, Any]]):
    """``np.random.Generator(cls(seed))`` for one numpy bit generator class."""

    library = "numpy"
    seed_max = 2**128 - 1
    imports = "import numpy as np"

    def __init__(self, name: str, cls: type[np.random.BitGenerator], state_nbytes: int,
                 access: RandomAccess = CHECKPOINT_ONLY, seek: Jump | None = None,
                 extra_doc: str = "", seeding: GlobalSeeding | None = None) -> None:
        super().__init__(DISTRIBUTIONS)
        self.cls, self._jump, self.seeding = cls, seek, seeding
        self.name, self.state_nbytes, self.access = name, state_nbytes, access
        self.bit_generator = cls.__name__
        self.state = StateExport("numpy.bit_generator",
                                 f"bitgen = np.random.{cls.__name__}()\nbitgen.state = state\n"
                                 "rng = np.random.Generator(bitgen)")
        self.setup = f"rng = np.random.Generator(np.random.{cls.__name__}({{seed}}))" + extra_doc
        self.doc = (f"np.random.Generator(np.random.{cls.__name__}(seed)), seeded through "
                    "np.random.SeedSequence(seed). Seeds 0..2**128-1.")

    def new(self, seed: SeedInput) -> Gen:
        return Gen(self.cls(seed))

    def save(self, rng: Gen) -> dict[str, Any]:
        return dict(rng.bit_generator.state)

    def restore(self, state: dict[str, Any]) -> Gen:
        bitgen = self.cls(0)
        bitgen.state = state
        return Gen(bitgen)

    def export(self, rng: Gen) -> JSONValue:
        return _jsonable(rng.bit_generator.state)

    def jumped(self, seed: SeedInput, units: int) -> Gen:
        if self._jump is None:
            return super().jumped(seed, units)
        return Gen(self._jump(self.cls, seed, units))


PCG = RandomAccess("advance", PCG_DOC, lambda words: 1e5)
ENGINES: tuple[NumpyGenerator, ...] = (
    NumpyGenerator("numpy-pcg64", np.random.PCG64, 600, PCG, _pcg,
                   extra_doc="  # == np.random.default_rng({seed})",
                   seeding=GlobalSeeding("numpy_generator")),
    NumpyGenerator("numpy-pcg64dxsm", np.random.PCG64DXSM, 600, PCG, _pcg),
    NumpyGenerator("numpy-philox", np.random.Philox, 800, RandomAccess(
        "advance", "Philox.advance(d) moves d blocks of four 64-bit draws; the rest drawn",
        lambda words: 1e5), _philox),
    NumpyGenerator("numpy-sfc64", np.random.SFC64, 600),
    NumpyGenerator("numpy-mt19937", np.random.MT19937, 3_000,
                   RandomAccess("jump", JUMP_DOC, jump_cost_ns), _mt19937),
)
