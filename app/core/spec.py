"""The engine interface: what an engine is and what it can do.

Split the way numpy splits ``BitGenerator`` and its subclasses:

- ``Engine`` is what the registry, the slicing service, the routes and the tests see: the
  engine's description, its distributions, explicit capability objects (``RandomAccess``,
  ``StateExport``, ``DeviceProfiles``) and methods that hand out ``Cursor``s (a generator
  positioned in one stream). It never names the library's generator type.
- ``GeneratorEngine[G, S]`` is what an engine module subclasses: ``new``/``save``/``restore``
  (and ``jumped``, ``export``, when its capabilities say so) on the library's own generator
  ``G`` and saved state ``S``; the cursors are built here, typed by ``G`` and ``S``.

``Distribution[G]`` draws from a ``G``; ``DistributionSpec`` is its description, which is
all a caller outside the engine needs.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from app.core.dtypes import DType

if TYPE_CHECKING:
    from app.core.cuda.gpu import Gpu

Number = float | int
Params = Mapping[str, Number]
Array = npt.NDArray[np.generic]
JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
SeedInput = int | np.random.SeedSequence
"""What a generator is built from: an integer seed, or (numpy Generator engines with a
spawn key) a SeedSequence."""
StreamKey = tuple[str, str, str, tuple[tuple[str, Number], ...], int, tuple[int, ...]]
G = TypeVar("G")
S = TypeVar("S")


ParamKind = Literal["float", "int", "bool", "pair"]
"""How a parameter is written: a decimal number, an exact integer, ``true``/``false``, or
``pair``: two unsigned 32-bit integers ``hi,lo``, held as the one integer hi * 2**32 + lo."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    default: Number | None
    """None: the parameter is required."""
    doc: str
    example: Number | None = None
    """A value to show in examples (``/v1/engines``) when the parameter is required."""
    optional: bool = False
    """May be left out although it has no default: the library call then omits it (Python's
    ``random.triangular(low, high)`` without ``mode``)."""
    names_stream: bool = False
    """Given, it names the stream instead of a seed (jax-threefry's ``key=hi,lo``): seed=
    and run= are then left out, and the stream's seed is None."""

    @property
    def sample(self) -> Number:
        """A valid value for examples: the example, else the default."""
        if self.example is not None:
            return self.example
        if self.default is not None:
            return self.default
        raise ValueError(f"parameter {self.name} needs an example (it has no default)")


def _no_fixed_units(params: Params, dtype: DType) -> int | None:
    return None


@dataclass(frozen=True, kw_only=True)
class DistributionSpec:
    """A distribution as described to callers (no generator type)."""

    name: str
    params: tuple[Param, ...]
    dtypes: tuple[str, ...]
    """dtypes offered, in a stable order."""
    default_dtype: str
    call: Callable[[Params, DType, int | str], str]
    """The reference call, as Python source, for n elements (a number or a variable name)."""
    check: Callable[[Params, DType], None]
    """Raise InvalidParameter for a combination the reference call cannot do."""
    cost_ns: float
    """Estimated nanoseconds per element to regenerate (prices a skip to an offset)."""
    block: int = 1
    """Elements per positioning unit: the stream can only be entered at multiples of it."""
    refused_dtypes: Mapping[str, str] = field(default_factory=dict)
    """dtypes the library takes but the service refuses, with the reason."""
    notes: str = ""
    units: Callable[[Params, DType], int | None] = _no_fixed_units
    """32-bit words of the bit generator each element consumes, when that is fixed (then
    an offset maps to a draw position and the engine's ``seek`` reaches it directly);
    None when it varies (rejection sampling): the stream is checkpointed."""
    access_with_seek: str = "checkpointed"
    """How an offset is reached on an engine that can seek, in words, for people
    (``/v1/engines``, error messages); ``Engine.offset_access`` says what applies."""

    def reference_size(self, stop: int) -> int:
        """Size of the reference call whose prefix holds elements [0, stop)."""
        if self.block == 1:
            return stop
        return -(-max(stop, self.block) // self.block) * self.block


@dataclass(frozen=True, kw_only=True)
class Distribution(DistributionSpec, Generic[G]):
    draw: Callable[[G, Params, DType, int], Array]
    """Draw n elements of the stream from generator G: one call of the real library."""


# --- capabilities ------------------------------------------------------------------------

AccessKind = Literal["jump", "advance", "counter", "checkpoint-only"]


def _free(words: int) -> float:
    return 0.0


@dataclass(frozen=True)
class RandomAccess:
    """How the engine reaches a far position without generating the prefix.

    ``jump``: a jump polynomial (MT19937); ``advance``: the bit generator's own advance;
    ``counter``: the position is counter arithmetic; ``checkpoint-only``: none (streams are
    regenerated from the nearest checkpoint).
    """

    kind: AccessKind
    doc: str
    cost_ns: Callable[[int], float] = _free
    """Estimated cost (ns) of a seek by so many words, to choose between a seek and the
    nearest checkpoint."""

    @property
    def seekable(self) -> bool:
        return self.kind != "checkpoint-only"


CHECKPOINT_ONLY = RandomAccess("checkpoint-only", "none: streams are checkpointed")

StateKind = Literal["numpy.bit_generator", "numpy.random_state", "python.random",
                    "torch.generator"]
"""How a client rebuilds a generator from an exported state (``seed_authority_client``):

- ``numpy.bit_generator``: the dict of ``BitGenerator.state``; its ``bit_generator`` entry
  names the numpy class; ``np.random.Generator(bitgen)``.
- ``numpy.random_state``: ``[name, key list, pos, has_gauss, gauss]`` for
  ``RandomState.set_state``.
- ``python.random``: ``[version, internal list, gauss_next]`` for ``random.Random.setstate``.
- ``torch.generator``: base64 of ``torch.Generator.get_state()`` bytes (CPU).
"""


@dataclass(frozen=True)
class StateExport:
    """The engine can hand its generator's state to a worker, who continues locally."""

    kind: StateKind
    restore_code: str
    """Python that rebuilds the generator from ``state`` (what ``Cursor.export_state``
    gave); the engine's ``imports`` come first."""
    binary: bool = False
    """The JSON state is base64 of bytes, which ``format=raw`` sends as they are."""

    def raw(self, state: JSONValue) -> bytes:
        """The state as the bytes ``format=raw`` sends (only for a ``binary`` state)."""
        if not self.binary or not isinstance(state, str):
            raise ValueError(f"a {self.kind} state is not bytes")
        return base64.b64decode(state)


@dataclass(frozen=True)
class SeedingStep:
    """One step of the "seed everything" recipe (``/v1/seeds``): Python, in which ``{seed}``
    stands for the engine's derived seed; what it makes reproducible, and what it costs."""

    code: str
    fixes: str
    costs: str = "None."


@dataclass(frozen=True)
class GlobalSeeding:
    """The engine's stream is what a process-wide seeding call makes (``random.seed``,
    ``np.random.seed``, ``torch.manual_seed``): ``/v1/seeds`` puts ``steps`` in its recipe
    with the engine's derived seed and reports that seed under ``role``
    (``framework_seeds``), by which the client's ``seed_everything`` seeds the library."""

    role: str
    steps: tuple[SeedingStep, ...] = ()


@dataclass(frozen=True)
class DeviceProfiles:
    """The stream depends on the device that would make it: named parameter presets chosen
    with ``device=``, and where this process makes the streams."""

    profiles: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class CallInfo:
    """Facts about the equivalent local call, reported with a slice (JSON ``local_call``)
    and, for some, as response headers (declared in ``Engine.response_headers``)."""

    facts: Mapping[str, int | str]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Runtime:
    """The hardware this process makes streams on: built from the settings (``cuda=``) by
    ``create_app``, held by ``StreamService`` and carried by every ``Stream`` it resolves to
    the engine that makes it. Never a process-wide switch: two services in one process (the
    tests' model GPUs, the CUDA comparison script) each have their own."""

    gpu: Gpu | None = None
    """The CUDA device engines with GPU streams generate on; None: a CPU-only authority."""


CPU_ONLY = Runtime()


# --- streams and cursors -----------------------------------------------------------------

class Cursor(ABC):
    """A generator positioned in one stream: draws its next elements."""

    @abstractmethod
    def draw(self, n: int) -> Array:
        """The next n elements, in the dtype's storage."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """A saved copy of the position, that any number of ``resume`` calls restore."""

    @abstractmethod
    def export_state(self) -> JSONValue:
        """The generator's state in the library's own form (``Engine.state`` says which)."""


class Snapshot(ABC):
    """A saved position of a stream (a checkpoint)."""

    @abstractmethod
    def resume(self) -> Cursor:
        """A new cursor at the saved position."""


@dataclass(frozen=True)
class Stream:
    """One fully specified, validated infinite sequence."""

    engine: Engine
    dist: DistributionSpec
    dtype: DType
    params: Params
    seed: int | None
    """None: a parameter that ``names_stream`` names it instead."""
    spawn_key: tuple[int, ...] = ()
    runtime: Runtime = field(default=CPU_ONLY, compare=False, repr=False)
    """Where it is made (``StreamService.runtime``): no part of its values."""
    key: StreamKey = field(init=False, repr=False)
    gen_seed: SeedInput = field(init=False, repr=False)
    """What the engine's generator is built from: the seed, or the one the spawn key
    derives."""

    def __post_init__(self) -> None:
        key = (self.engine.name, self.dist.name, self.dtype.name,
               tuple(self.params.items()), self.seed, self.spawn_key)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "gen_seed", self.engine.generator_seed(
            0 if self.seed is None else self.seed, self.spawn_key))

    def start(self) -> Cursor:
        """A cursor at element 0."""
        return self.engine.start(self)

    def seek(self, units: int) -> Cursor:
        """A cursor ``units`` bit-generator words in (see ``units_per_element``)."""
        return self.engine.seek(self, units)

    def reference(self, start: int, stop: int) -> str:
        return self.engine.reference(self.dist, self.params, self.dtype, self.seed, start, stop,
                                     self.spawn_key)

    def call_info(self, n: int) -> CallInfo | None:
        """Facts about the equivalent local call of n elements (``Engine.call_info``)."""
        return self.engine.call_info(self.dist, self.params, self.dtype, n, self.runtime)

    @property
    def units_per_element(self) -> int | None:
        """Bit-generator words per element when fixed and the engine can seek, else None."""
        if not self.engine.access.seekable:
            return None
        return self.dist.units(self.params, self.dtype)


# --- engines ------------------------------------------------------------------------------

class Engine(ABC):
    """What the registry holds: an engine's description, capabilities and cursors."""

    name: str
    library: str
    bit_generator: str
    seed_max: int
    imports: str
    """Python import lines the reference code needs."""
    setup: str
    """Python source that builds the generator; ``{seed}`` is replaced."""
    doc: str
    state_nbytes: int
    """Approximate memory held by one saved state (for the checkpoint cache budget)."""
    access: RandomAccess = CHECKPOINT_ONLY
    state: StateExport | None = None
    """None: the library has no state a worker could continue the stream from."""
    no_state_reason: str = "the library keeps no state a worker could continue from"
    """Why ``state`` is None, for the error a state request gets."""
    devices: DeviceProfiles | None = None
    max_reference: int | None = None
    """Largest reference call (offset + count) whose elements the stream defines."""
    seed_bits: int | None = None
    """Bits of the integer seed the generator takes when a spawn key derives it
    (``SeedSequence(seed, spawn_key).generate_state(1, uint<bits>)[0]``); None: the generator
    takes the SeedSequence itself (numpy's Generator engines)."""
    spawn_rule: str | None = None
    """None: ``spawn_key`` derives the generator's seed through ``SeedSequence`` (see
    ``seed_bits``); else the engine applies the spawn key to its own key, as this says
    (jax-threefry: a chain of ``fold_in``), and a run's seed derives the engine's seed
    before it."""
    max_reference_doc: str = ""
    """Why streams end at ``max_reference``."""
    refused: Mapping[str, str] = MappingProxyType({})
    """Samplers of the library this engine does not serve as streams, with the reason."""
    response_headers: Mapping[str, str] = MappingProxyType({})
    """Extra headers a slice response carries (from ``call_info``), with their meaning."""
    seeding: GlobalSeeding | None = None
    """None: no process-wide seeding call makes this engine's streams."""

    @property
    @abstractmethod
    def distributions(self) -> Mapping[str, DistributionSpec]: ...

    @abstractmethod
    def start(self, stream: Stream) -> Cursor:
        """A cursor at element 0 of the stream."""

    @abstractmethod
    def seek(self, stream: Stream, units: int) -> Cursor:
        """A cursor moved ahead by ``units`` bit-generator words in O(log units); only
        called when ``access.seekable``."""

    def check_runtime(self, dist: DistributionSpec, params: Params, runtime: Runtime) -> None:
        """Raise (an AuthorityError naming the parameter) when this runtime cannot make the
        stream: hardware it lacks. Called when a stream is resolved, after ``dist.check``."""
        return

    def call_info(self, dist: DistributionSpec, params: Params, dtype: DType, n: int,
                  runtime: Runtime) -> CallInfo | None:
        """Facts about the equivalent local call of n elements, when there are any."""
        return None

    def generated_on(self, runtime: Runtime) -> str | None:
        """Where this runtime makes the engine's streams, when that varies."""
        return None

    def offset_access(self, dist: DistributionSpec) -> str:
        """How an offset of ``dist`` is reached: ``direct``, ``checkpointed``, or a rule."""
        return dist.access_with_seek if self.access.seekable else "checkpointed"

    def generator_seed(self, seed: int, spawn_key: tuple[int, ...] = ()) -> SeedInput:
        """What the generator is built from: the seed, or the one a spawn key derives."""
        if not spawn_key:
            return seed
        sequence = np.random.SeedSequence(seed, spawn_key=spawn_key)
        if self.seed_bits is None:
            return sequence
        return derive_seed(sequence, self.seed_bits)

    def seed_expr(self, seed: int, spawn_key: tuple[int, ...] = ()) -> str:
        if not spawn_key:
            return str(seed)
        sequence = f"np.random.SeedSequence({seed}, spawn_key={spawn_key!r})"
        if self.seed_bits is None:
            return sequence
        return f"int({sequence}.generate_state(1, np.uint{self.seed_bits})[0])"

    def reference(self, dist: DistributionSpec, params: Params, dtype: DType, seed: int | None,
                  start: int, stop: int, spawn_key: tuple[int, ...] = ()) -> str:
        """Runnable Python that reproduces elements [start, stop) of the stream (seed None:
        a parameter names it, for engines that have one)."""
        if seed is None:
            raise ValueError(f"{self.name} streams are named by a seed")
        total = dist.reference_size(stop)
        call = dist.call(params, dtype, total)
        if start != 0 or stop != total:
            call = f"{call}[{start}:{stop}]"
        return f"{self.preamble(seed, spawn_key)}x = {call}\n"

    def preamble(self, seed: int, spawn_key: tuple[int, ...] = ()) -> str:
        """Imports and the generator, as Python."""
        imports = self.imports
        if spawn_key and "numpy" not in imports:
            imports += "\nimport numpy as np"
        return f"{imports}\n{self.setup.format(seed=self.seed_expr(seed, spawn_key))}\n"

    def restore_code(self) -> str:
        """Python that rebuilds the generator from an exported ``state``."""
        if self.state is None:
            return ""
        return f"{self.imports}\n{self.state.restore_code}\n"


def derive_seed(sequence: np.random.SeedSequence, bits: int) -> int:
    """A ``bits``-bit seed from a SeedSequence: its first uint32 (bits <= 32) or uint64
    word, shifted right to ``bits`` bits (jax-threefry's 63-bit seeds)."""
    word = 32 if bits <= 32 else 64
    dtype = np.uint32 if word == 32 else np.uint64
    return int(sequence.generate_state(1, dtype)[0]) >> (word - bits)


def int_seed(seed: SeedInput) -> int:
    """The integer seed of an engine that declares ``seed_bits`` (never a SeedSequence)."""
    if not isinstance(seed, int):
        raise TypeError("this engine takes integer seeds (it declares seed_bits)")
    return seed


class GeneratorEngine(Engine, Generic[G, S]):
    """An engine whose streams come from a library generator ``G``, saved as ``S``.

    A subclass gives its description as class attributes (or in ``__init__``), its
    distributions, and ``new``/``save``/``restore``; ``jumped`` when ``access`` is seekable,
    ``export`` when ``state`` is given.
    """

    def __init__(self, distributions: Mapping[str, Distribution[G]]) -> None:
        self._distributions = distributions

    @property
    def distributions(self) -> Mapping[str, Distribution[G]]:
        return self._distributions

    @abstractmethod
    def new(self, seed: SeedInput) -> G:
        """A generator at the start of the stream."""

    @abstractmethod
    def save(self, gen: G) -> S:
        """A snapshot of the generator that ``restore`` turns back into a generator."""

    @abstractmethod
    def restore(self, state: S) -> G:
        """A new generator from a snapshot."""

    def jumped(self, seed: SeedInput, units: int) -> G:
        """A generator moved ahead by ``units`` 32-bit words (``access`` says how)."""
        raise NotImplementedError(f"{self.name} cannot seek ({self.access.kind})")

    def export(self, gen: G) -> JSONValue:
        """The generator's state in the library's own form (``state.kind``)."""
        raise NotImplementedError(f"{self.name} exports no state")

    def cursor(self, stream: Stream, gen: G) -> GeneratorCursor[G, S]:
        return GeneratorCursor(self, self._distributions[stream.dist.name], stream, gen)

    def start(self, stream: Stream) -> GeneratorCursor[G, S]:
        return self.cursor(stream, self.new(stream.gen_seed))

    def seek(self, stream: Stream, units: int) -> GeneratorCursor[G, S]:
        return self.cursor(stream, self.jumped(stream.gen_seed, units))


class GeneratorCursor(Cursor, Generic[G, S]):
    __slots__ = ("dist", "engine", "gen", "stream")

    def __init__(self, engine: GeneratorEngine[G, S], dist: Distribution[G], stream: Stream,
                 gen: G) -> None:
        self.engine, self.dist, self.stream, self.gen = engine, dist, stream, gen

    def draw(self, n: int) -> Array:
        stream = self.stream
        arr = self.dist.draw(self.gen, stream.params, stream.dtype, n)
        if arr.dtype != stream.dtype.storage or arr.shape != (n,):
            raise RuntimeError(f"{self.engine.name}/{self.dist.name} drew {arr.dtype}"
                               f"{arr.shape}, expected {stream.dtype.storage}({n},)")
        return arr

    def snapshot(self) -> GeneratorSnapshot[G, S]:
        return GeneratorSnapshot(self.engine, self.dist, self.stream, self.engine.save(self.gen))

    def export_state(self) -> JSONValue:
        return self.engine.export(self.gen)


class GeneratorSnapshot(Snapshot, Generic[G, S]):
    __slots__ = ("dist", "engine", "state", "stream")

    def __init__(self, engine: GeneratorEngine[G, S], dist: Distribution[G], stream: Stream,
                 state: S) -> None:
        self.engine, self.dist, self.stream, self.state = engine, dist, stream, state

    def resume(self) -> GeneratorCursor[G, S]:
        return GeneratorCursor(self.engine, self.dist, self.stream,
                               self.engine.restore(self.state))
