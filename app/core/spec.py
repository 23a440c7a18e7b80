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
    """None: the parameter is required."""
    doc: str


@dataclass(frozen=True)
class Distribution(Generic[G]):
    name: str
    params: tuple[Param, ...]
    dtypes: tuple[str, ...]
    """dtypes offered, in a stable order."""
    default_dtype: str
    draw: Callable[[G, Params, DType, int], Array]
    """Draw n elements of the stream from generator G: one call of the real library."""
    call: Callable[[Params, DType, int], str]
    """The reference call, as Python source, for n elements."""
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

    def access(self, dist: Distribution[G]) -> str:
        return dist.access if self.seek is not None else "checkpointed"

    def reference(self, dist: Distribution[G], params: Params, dtype: DType, seed: int,
                  start: int, stop: int) -> str:
        """Runnable Python that reproduces elements [start, stop) of the stream."""
        total = dist.reference_size(stop)
        call = dist.call(params, dtype, total)
        if start != 0 or stop != total:
            call = f"{call}[{start}:{stop}]"
        return f"{self.imports}\n{self.setup.format(seed=seed)}\nx = {call}\n"
