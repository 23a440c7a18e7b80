"""Call replay: run a seeded program of library calls exactly as the library runs it.

``torch.manual_seed(0); torch.randn(8); torch.rand(2, 3)`` is the program
``parse_program("torch-cpu", 0, [{"fn": "randn", "args": [8]}, {"fn": "rand", "args": [2, 3]}])``.
The functions and their arguments come from ``calls_whitelist`` only. The program runs on a
generator of its own (never the library's global one) and its ``reference`` is the program as
Python, which makes the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.core.calls_args import Bound, bind, materialize
from app.core.calls_whitelist import CALL_ENGINES, REFUSED, CallEngine, Fn
from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter, TooLarge

MAX_CALLS = 10_000
"""Most calls in one program."""
FN_NAME_MAX = 64


@dataclass(frozen=True)
class Call:
    index: int
    fn: Fn[Any]
    bound: Bound
    work: int
    """Elements made and read, times the function's weight."""

    @property
    def name(self) -> str:
        return f"r{self.index}"

    def source(self, prefix: str) -> str:
        """The call as Python (``torch.randn(8)``); a shuffled list is ``r<index>``."""
        parts = [self.name if self._is_returned(i) else repr(a)
                 for i, a in enumerate(self.bound.args)]
        parts += [f"{k}={self.name if k == self.fn.returns else repr(v)}"
                  for k, v in self.bound.kwargs.items()]
        return f"{prefix}{self.fn.name}({', '.join(parts)})"

    def _is_returned(self, position: int) -> bool:
        # Only non-varargs functions shuffle an argument, and it is their first parameter.
        return self.fn.returns is not None and position == 0

    def statement(self, prefix: str) -> str:
        if self.fn.returns is None:
            return f"{self.name} = {self.source(prefix)}"
        return f"{self.name} = {self.bound.values[self.fn.returns]!r}\n{self.source(prefix)}"


@dataclass(frozen=True)
class Program:
    engine: CallEngine[Any]
    seed: int
    calls: tuple[Call, ...]
    selected: tuple[int, ...]
    """Indices of the calls whose results are returned, in the order asked for."""

    @property
    def work(self) -> int:
        return sum(c.work for c in self.calls)

    def reference(self) -> str:
        """The program as runnable Python: after it, ``r<i>`` holds call i's result."""
        lines = [self.engine.setup.format(seed=self.seed)]
        lines += [c.statement(self.engine.prefix) for c in self.calls]
        return "\n".join(lines) + "\n"

    def run(self) -> dict[int, torch.Tensor]:
        """Every call in order on a generator of the program's own; the selected results.

        A library error (a domain the whitelist leaves to the library) is a 422 naming the
        call.
        """
        gen = self.engine.new(self.seed)
        keep = set(self.selected)
        out: dict[int, torch.Tensor] = {}
        for call in self.calls:
            args = tuple(materialize(a) for a in call.bound.args)
            kwargs = {k: materialize(v) for k, v in call.bound.kwargs.items()}
            try:
                result = call.fn.invoke(gen, args, kwargs)
            except (ValueError, TypeError, OverflowError, RuntimeError, IndexError,
                    ZeroDivisionError, NotImplementedError) as exc:
                raise InvalidParameter(f"calls[{call.index}]",
                                       f"{self.engine.prefix}{call.fn.name} refused it: "
                                       f"{exc}") from None
            if call.fn.returns is not None:
                result = args[0] if call.bound.args else kwargs[call.fn.returns]
            if call.index in keep:
                out[call.index] = as_tensor(result, call)
        return {i: out[i] for i in self.selected}


def as_tensor(result: Any, call: Call) -> torch.Tensor:
    """A call's result as a tensor of a served dtype (Python values: float64 / int64)."""
    if isinstance(result, torch.Tensor):
        return result.contiguous()
    if isinstance(result, bytes):
        arr: np.ndarray[Any, Any] = np.frombuffer(result, dtype=np.uint8).copy()
    elif isinstance(result, list):  # Python's shuffle, sample, choices: the population's type
        source = next((call.bound.values[k] for k in ("x", "population", "seq")
                       if k in call.bound.values), result)
        arr = np.array(result, dtype=_list_dtype(source or result))
    elif isinstance(result, bool):
        raise AssertionError("no whitelisted function returns a bool")  # pragma: no cover
    else:
        arr = np.asarray(result, dtype=call.fn.result_dtype)
        if arr.dtype == np.float64 and isinstance(result, int):  # pragma: no cover
            raise AssertionError("an int result lost its type")
    if arr.dtype.name not in DTYPES:  # pragma: no cover - the whitelist's dtypes are served
        raise AssertionError(f"{call.fn.name} returned {arr.dtype}")
    return torch.from_numpy(arr if arr.flags.c_contiguous and arr.flags.writeable else arr.copy())


def _list_dtype(values: Sequence[Any]) -> type[np.generic]:
    return np.int64 if values and isinstance(values[0], int) else np.float64


def parse_program(engine: str, seed: int, calls: Sequence[Mapping[str, Any]],
                  results: Sequence[int] | None, max_work: int) -> Program:
    """Validate a program against the whitelist and the work limit, before running it."""
    spec = call_engine(engine)
    if not 0 <= seed <= spec.seed_max:
        raise InvalidParameter("seed", f"must be 0..{spec.seed_max} for {engine}, got {seed}")
    if not 1 <= len(calls) <= MAX_CALLS:
        raise InvalidParameter("calls", f"must hold 1 to {MAX_CALLS} calls, got {len(calls)}")
    parsed: list[Call] = []
    total = 0
    for index, raw in enumerate(calls):
        call = _parse_call(spec, index, raw)
        total += call.work
        if total > max_work:
            raise TooLarge(f"calls[{index}]", f"calls[0..{index}] make {total} elements "
                                              f"(weighted by cost), over the limit of "
                                              f"{max_work} (max_call_elements)")
        parsed.append(call)
    return Program(spec, seed, tuple(parsed), _selection(results, len(parsed)))


def call_engine(engine: str) -> CallEngine[Any]:
    if engine in CALL_ENGINES:
        return CALL_ENGINES[engine]
    if engine in REFUSED:
        raise InvalidParameter("engine", f"{engine} has no call replay: {REFUSED[engine]}")
    raise InvalidParameter("engine", f"no call replay for engine {engine!r}; engines with one: "
                                f"{', '.join(CALL_ENGINES)}")


def _parse_call(spec: CallEngine[Any], index: int, raw: Mapping[str, Any]) -> Call:
    where = f"calls[{index}]"
    name = raw.get("fn")
    if not isinstance(name, str) or len(name) > FN_NAME_MAX or name not in spec.functions:
        shown = repr(name)[:FN_NAME_MAX + 2]
        raise InvalidParameter(f"{where}.fn", f"{shown} is not a function {spec.name} replays; "
                                              f"it replays {', '.join(spec.functions)}")
    fn = spec.functions[name]
    args, kwargs = raw.get("args", []), raw.get("kwargs", {})
    if not isinstance(args, list):
        raise InvalidParameter(f"{where}.args", "must be a list")
    if not isinstance(kwargs, dict):
        raise InvalidParameter(f"{where}.kwargs", "must be an object")
    bound = bind(fn.params, args, kwargs, where, fn.varargs, fn.overloads)
    return Call(index, fn, bound, max(fn.elements(bound.values), 1) * fn.weight)


def _selection(results: Sequence[int] | None, n: int) -> tuple[int, ...]:
    if results is None:
        return tuple(range(n))
    seen: set[int] = set()
    for j, index in enumerate(results):
        if not 0 <= index < n:
            raise InvalidParameter(f"results[{j}]", f"no call {index}: the program has calls "
                                                    f"0..{n - 1}")
        if index in seen:
            raise InvalidParameter(f"results[{j}]", f"call {index} is asked for twice")
        seen.add(index)
    return tuple(results)
