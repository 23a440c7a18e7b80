"""``jax-threefry``: ``jax.random`` streams under JAX's defaults, computed without JAX.

The key is ``jax.random.key(seed)`` (``x64`` says how the seed becomes the two key words, as
``jax_enable_x64`` does) or explicit words ``key=hi,lo``; ``spawn_key`` folds in. In JAX's
default partitionable threefry, element i of a call depends only on the key and i, so an
offset is counter arithmetic (``app.core.jax``): ``bits``, ``uniform`` and ``randint`` are
computed by a small C kernel, ``normal`` applies JAX's own ``erf_inv`` (JAX needed at run
time; a 501 naming the optional extra otherwise). Nothing here touches JAX's global
configuration: the only JAX call (normal's erf_inv) sets x64 in a thread-local context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.jax import sampling
from app.core.jax.keys import SEED_MAX, WORD_MAX, Key, key_code, seed_key
from app.core.params import unpack_pair
from app.core.spec import (
    Array,
    Cursor,
    Distribution,
    DistributionSpec,
    Engine,
    JSONValue,
    Param,
    Params,
    RandomAccess,
    SeedInput,
    Snapshot,
    Stream,
)

NAME = "jax-threefry"
EXTRA = "pip install 'seed-authority[jax]'"
X64 = Param("x64", "bool", False,
            "JAX's jax_enable_x64: how the seed becomes the key's two words (false: the seed "
            "wraps to int32, high word 0; true: the int64 seed's two halves), how randint's "
            "bounds are read (int32 or int64), and whether 64-bit dtypes exist.")
KEY = Param("key", "pair", None,
            "The key's two uint32 words hi,lo (jax.random.key_data), instead of seed=: "
            "jax.random.wrap_key_data([hi, lo]). spawn_key still folds in.", optional=True,
            names_stream=True)
COMMON = (X64, KEY)
UNIFORM = (Param("minval", "float", 0.0, "Lower bound (inclusive)."),
           Param("maxval", "float", 1.0, "Upper bound (exclusive, but rounding may reach it "
                                           "as in JAX)."))
RANDINT = (Param("minval", "int", None, "Lowest value (inclusive); clipped into the dtype "
                                        "as JAX does.", example=0),
           Param("maxval", "int", None, "One above the highest value (exclusive); clipped "
                                        "into the dtype as JAX does (maxval <= minval gives "
                                        "minval).", example=10))


@dataclass(frozen=True)
class Position:
    """A place in one stream: the key (spawn key folded in), the element index and x64."""

    key: Key
    index: int
    x64: bool


Draw = Callable[[Position, Params, DType, int], Array]


def stream_key(params: Params, seed: int | None, spawn_key: tuple[int, ...]) -> Key:
    """The key of a stream: from ``key=`` or the seed (under ``x64``), folded with spawn_key."""
    if params.get("key") is not None:
        return Key(*unpack_pair(params["key"])).fold(spawn_key)
    if seed is None:
        raise InvalidParameter("seed", "required (or key=hi,lo)")
    return seed_key(seed, bool(params["x64"])).fold(spawn_key)


def _bits(pos: Position, p: Params, dt: DType, n: int) -> Array:
    return sampling.bits(pos.key, pos.index, n, dt.name)


def _uniform(pos: Position, p: Params, dt: DType, n: int) -> Array:
    return sampling.uniform(pos.key, pos.index, n, dt.name, float(p["minval"]),
                            float(p["maxval"]))


def _plan(p: Params, dt: DType) -> sampling.RandintPlan:
    return sampling.randint_plan(int(p["minval"]), int(p["maxval"]), dt.name, bool(p["x64"]))


def _randint(pos: Position, p: Params, dt: DType, n: int) -> Array:
    return sampling.randint(pos.key, pos.index, n, _plan(p, dt))


def _normal(pos: Position, p: Params, dt: DType, n: int) -> Array:
    return sampling.normal(pos.key, pos.index, n, dt.name)


def _check_x64(p: Params, dt: DType) -> None:
    if sampling.x64_only(dt.name) and not p["x64"]:
        raise InvalidParameter("x64", f"dtype {dt.name} exists in JAX only with "
                                      "jax_enable_x64: give x64=true (without it JAX "
                                      "silently makes 32-bit values)")


def _check_bits(p: Params, dt: DType) -> None:
    _check_x64(p, dt)


def _check_uniform(p: Params, dt: DType) -> None:
    _check_x64(p, dt)
    sampling.check_uniform(float(p["minval"]), float(p["maxval"]), dt.name)


def _check_randint(p: Params, dt: DType) -> None:
    _check_x64(p, dt)
    _plan(p, dt)


def _check_normal(p: Params, dt: DType) -> None:
    _check_x64(p, dt)
    if not sampling.jax_available():
        raise sampling.NeedsJax(
            "distribution", f"{NAME} normal applies JAX's own erf_inv (XLA's polynomial, not "
                            "reproduced without JAX), and JAX is not installed on this "
                            f"authority: install the optional extra, {EXTRA}. bits, uniform "
                            "and randint need no JAX.")


def _default_dtype(dist: str, x64: bool) -> str:
    """The dtype JAX picks when the call gives none."""
    if dist == "bits":
        return "uint32"
    if dist == "randint":
        return "int64" if x64 else "int32"
    return "float64" if x64 else "float32"


def _call(dist: str) -> Callable[[Params, DType, int | str], str]:
    def call(p: Params, dt: DType, n: int | str) -> str:
        args = [f"({n},)"]
        if dist == "uniform":
            args += [f"minval={float(p['minval'])!r}", f"maxval={float(p['maxval'])!r}"]
        elif dist == "randint":
            args += [f"minval={int(p['minval'])}", f"maxval={int(p['maxval'])}"]
        if dt.name != _default_dtype(dist, bool(p.get("x64", False))):
            args.append(f"dtype=jax.numpy.{dt.name}")
        return f"jax.random.{dist}(key, {', '.join(args)})"
    return call


def _dist(name: str, params: tuple[Param, ...], dtypes: tuple[str, ...], draw: Draw,
          check: Callable[[Params, DType], None], cost_ns: float,
          notes: str) -> Distribution[Position]:
    return Distribution(
        name=name, params=params + COMMON, dtypes=dtypes, default_dtype=dtypes[0], draw=draw,
        check=check, cost_ns=cost_ns, call=_call(name), units=lambda p, dt: 1,
        access_with_seek="direct", notes=notes)


_64 = "64-bit dtypes need x64=true, as in JAX."
_NO_JAX = "Computed without JAX (bit-exact)."
DISTRIBUTIONS: dict[str, Distribution[Position]] = {
    "bits": _dist("bits", (), sampling.BITS_DTYPES, _bits, _check_bits, 3,
                  f"jax.random.bits: uint32 = y0 ^ y1 of counter i, uint8/16 truncated, uint64 "
                  f"= y0 << 32 | y1. {_NO_JAX} {_64}"),
    "uniform": _dist("uniform", UNIFORM, sampling.FLOAT_DTYPES, _uniform, _check_uniform, 4,
                     "jax.random.uniform as XLA:CPU computes it: the mantissa bits give f in "
                     "[0, 1), then max(minval, fma(f, maxval - minval, minval)) in one fused "
                     "multiply-add (GPU/TPU builds may round differently for bounds other "
                     "than [0, 1)); subnormal bounds are refused (XLA:CPU flushes them to "
                     f"zero). {_NO_JAX} {_64}"),
    "randint": _dist("randint", RANDINT, sampling.INT_DTYPES, _randint, _check_randint, 8,
                     "jax.random.randint: split(key) gives the high and low bits, (hi % span "
                     "* mult + lo % span) % span + minval; 8- and 16-bit dtypes are drawn as "
                     "int32 with clipped bounds. Bounds are Python ints, as JAX reads them "
                     f"(int32, int64 with x64=true). {_NO_JAX} {_64}"),
    "normal": _dist("normal", (), sampling.FLOAT_DTYPES, _normal, _check_normal, 60,
                    "jax.random.normal: sqrt(2) * erf_inv(uniform(nextafter(-1, 0), 1)). "
                    "Needs JAX installed on the authority (it applies JAX's own erf_inv); "
                    f"without it a 501 naming the extra ({EXTRA}); `versions` lists jax when it "
                    f"is installed. {_64}"),
}


class JaxCursor(Cursor):
    __slots__ = ("dist", "pos", "stream")

    def __init__(self, dist: Distribution[Position], stream: Stream, pos: Position) -> None:
        self.dist, self.stream, self.pos = dist, stream, pos

    def draw(self, n: int) -> Array:
        pos = self.pos
        arr = self.dist.draw(pos, self.stream.params, self.stream.dtype, n)
        self.pos = Position(pos.key, pos.index + n, pos.x64)
        return arr

    def snapshot(self) -> JaxSnapshot:
        return JaxSnapshot(self.dist, self.stream, self.pos)

    def export_state(self) -> JSONValue:
        raise NotImplementedError(f"{NAME} has no generator state (jax.random is functional)")


class JaxSnapshot(Snapshot):
    __slots__ = ("dist", "pos", "stream")

    def __init__(self, dist: Distribution[Position], stream: Stream, pos: Position) -> None:
        self.dist, self.stream, self.pos = dist, stream, pos

    def resume(self) -> JaxCursor:
        return JaxCursor(self.dist, self.stream, self.pos)


class JaxThreefry(Engine):
    name = NAME
    library = "jax"
    bit_generator = "threefry2x32-20 (JAX's default PRNG, jax_threefry_partitionable=True)"
    seed_max = SEED_MAX
    imports = "import jax"
    setup = "key = jax.random.key({seed})"
    state_nbytes = 128
    access = RandomAccess(
        "counter", "counter arithmetic: element i hashes the counter (i >> 32, i & 0xffffffff) "
                   "with the key (partitionable threefry), so any of the 2**64 elements is "
                   "O(1)")
    seed_bits = 63
    spawn_rule = ("spawn_key=3,5 is jax.random.fold_in(jax.random.fold_in(key, 3), 5) (entries "
                  "uint32; in partitionable mode fold_in(key, i) == split(key, n)[i] for any "
                  "n > i)")
    max_reference = 2**64
    max_reference_doc = "the threefry counter has 64 bits"
    no_state_reason = ("jax.random is functional: a key and an index name every element, so a "
                       "worker continues with jax.random itself (see the slice's reference) or "
                       "fetches any slice from /v1/streams/jax-threefry")
    doc = ("jax.random streams under JAX's defaults (threefry2x32, jax_threefry_partitionable"
           "=True), computed by the authority without JAX (normal aside). Key derivation: "
           "key = jax.random.key(seed), seeds 0..2**63-1; with x64=false (JAX's default) the "
           "seed wraps to int32 and the words are [0, seed mod 2**32]; with x64=true they are "
           "[seed >> 32, seed & 0xffffffff]. Or key=hi,lo gives the words themselves "
           "(jax.random.wrap_key_data) instead of seed=. spawn_key=3,5 folds in: "
           "fold_in(fold_in(key, 3), 5). With run=, the seed is SeedSequence(run_seed)"
           ".generate_state(1, uint64)[0] >> 1. bits, uniform and randint need no JAX; normal "
           f"needs JAX installed here ({EXTRA}), else a 501. Legacy (non-partitionable) mode "
           "is not served: its values depend on the call's size.")

    def __init__(self, distributions: Mapping[str, Distribution[Position]]) -> None:
        self._distributions = distributions

    @property
    def distributions(self) -> Mapping[str, Distribution[Position]]:
        return self._distributions

    def _cursor(self, stream: Stream, index: int) -> JaxCursor:
        key = stream_key(stream.params, stream.seed, stream.spawn_key)
        pos = Position(key, index, bool(stream.params["x64"]))
        return JaxCursor(self._distributions[stream.dist.name], stream, pos)

    def start(self, stream: Stream) -> JaxCursor:
        return self._cursor(stream, 0)

    def seek(self, stream: Stream, units: int) -> JaxCursor:
        return self._cursor(stream, units)

    def generator_seed(self, seed: int, spawn_key: tuple[int, ...] = ()) -> SeedInput:
        """The seed itself: the spawn key folds into the key (checked to be uint32s)."""
        if any(not 0 <= d <= WORD_MAX for d in spawn_key):
            raise InvalidParameter("spawn_key", f"{NAME} folds each entry in with "
                                                "jax.random.fold_in: entries must be in "
                                                "0..2**32-1")
        return seed

    def seed_expr(self, seed: int, spawn_key: tuple[int, ...] = ()) -> str:
        expr = f"jax.random.key({seed})"
        for d in spawn_key:
            expr = f"jax.random.fold_in({expr}, {d})"
        return expr

    def reference(self, dist: DistributionSpec, params: Params, dtype: DType, seed: int | None,
                  start: int, stop: int, spawn_key: tuple[int, ...] = ()) -> str:
        key = Key(*unpack_pair(params["key"])) if params.get("key") is not None else None
        call = dist.call(params, dtype, stop)
        if start != 0:
            call = f"{call}[{start}:{stop}]"
        body = f"{key_code(seed, key, spawn_key)}\nx = {call}\n"
        if not params.get("x64", False):
            return f"import jax\n{body}"
        inner = "".join(f"    {line}\n" for line in body.splitlines())
        return f"import jax\nwith jax.enable_x64(True):  # jax_enable_x64, for this block only\n" \
               f"{inner}"


ENGINE = JaxThreefry(DISTRIBUTIONS)
