"""The shapes of registry entries: an engine, its distributions and their parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from app.core.dtypes import DType

Number = float | int
Params = Mapping[str, Number]
Array = npt.NDArray[np.generic]
G = TypeVar("G")


@dataclass(frozen=True)
class Param:
    name: str
    kind: Literal["float", "int"]
    default: Number | None
    """None: the parameter is required (unless ``optional``)."""
    doc: str
    example: Number | None = None
    """A valid value, for documentation and tests (the default when there is one)."""
    optional: bool = False
    """May be left out although it has no default: the library call then omits it."""


@dataclass(frozen=True)
class Distribution(Generic[G]):
    name: str
    params: tuple[Param, ...]
    dtypes: tuple[str, ...]
    """dtypes offered, in a stable order."""
    default_dtype: str
    draw: Callable[[G, Params, DType, int], Array]
    """Draw n elements of the stream from generator G: one call of the real library."""
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
    units: Callable[[Params, DType], int | None] = lambda p, dt: None
    """32-bit words of the bit generator each element consumes, when that is fixed (then
    an offset maps to a draw position and the engine's ``seek`` reaches it directly);
    None when it varies (rejection sampling): the stream is checkpointed."""
    access: str = "checkpointed"
    """How an offset is reached, in words, for people (``/v1/engines``, error messages)."""

    def reference_size(self, stop: int) -> int:
        """Size of the reference call whose prefix holds elements [0, stop)."""
        if self.block == 1:
            return stop
        return -(-max(stop, self.block) // self.block) * self.block


@dataclass(frozen=True)
class Engine(Generic[G]):
    name: str
    library: str
    bit_generator: str
    seed_max: int
    imports: str
    """Python import lines the reference code needs."""
    setup: str
    """Python source that builds the generator; ``{seed}`` is replaced."""
    new: Callable[[int], G]
    save: Callable[[G], Any]
    """A snapshot of the generator that ``restore`` turns back into a generator."""
    restore: Callable[[Any], G]
    state_nbytes: int
    """Approximate memory held by one saved state (for the checkpoint cache budget)."""
    distributions: Mapping[str, Distribution[G]]
    doc: str
    seek: Callable[[int, int], G] | None = None
    """A generator seeded with ``seed`` and moved ahead by ``units`` 32-bit words in
    O(log units), or None when the bit generator has no jump."""
    jump_cost_ns: Callable[[int], float] = lambda words: 0.0
    """Estimated cost (ns) of a ``seek`` by so many words, to choose between a jump and the
    nearest checkpoint."""
    jump_doc: str = "none: streams are checkpointed"
    export_state: Callable[[G], Any] | None = None
    """The generator's state in the library's own form, as JSON-able values; None: the
    library has no state a worker could continue the stream from."""
    restore_code: str = ""
    """Python that rebuilds the generator from ``state`` (what ``export_state`` gave)."""
    profiles: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Named parameter presets chosen with ``device=`` (GPU models, for torch-cuda)."""
    max_reference: int | None = None
    """Largest reference call (offset + count) whose elements the stream defines."""
    call_info: Callable[[Distribution[G], Params, DType, int], dict[str, Any]] | None = None
    """Facts about the equivalent local call of n elements, reported with every slice."""
    generated_on: Callable[[], str] | None = None
    """Where this process makes the engine's streams, when that varies (GPU or emulation)."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Library samplers this engine does not serve as streams, with the reason."""
    seed_bits: int | None = None
    """Bits of the integer seed the generator takes when a spawn key derives it
    (``SeedSequence(seed, spawn_key).generate_state(1, uint<bits>)[0]``); None: the generator
    takes the SeedSequence itself (numpy's Generator engines)."""

    def generator_seed(self, seed: int, spawn_key: tuple[int, ...] = ()) -> Any:
        """What ``new`` and ``seek`` are given: the seed, or the one a spawn key derives."""
        if not spawn_key:
            return seed
        sequence = np.random.SeedSequence(seed, spawn_key=spawn_key)
        if self.seed_bits is None:
            return sequence
        dtype = np.uint32 if self.seed_bits == 32 else np.uint64
        return int(sequence.generate_state(1, dtype)[0])

    def seed_expr(self, seed: int, spawn_key: tuple[int, ...] = ()) -> str:
        if not spawn_key:
            return str(seed)
        sequence = f"np.random.SeedSequence({seed}, spawn_key={spawn_key!r})"
        if self.seed_bits is None:
            return sequence
        return f"int({sequence}.generate_state(1, np.uint{self.seed_bits})[0])"

    def access(self, dist: Distribution[G]) -> str:
        return dist.access if self.seek is not None else "checkpointed"

    def reference(self, dist: Distribution[G], params: Params, dtype: DType, seed: int,
                  start: int, stop: int, spawn_key: tuple[int, ...] = ()) -> str:
        """Runnable Python that reproduces elements [start, stop) of the stream."""
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
