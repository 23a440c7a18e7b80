"""Typed arguments of the whitelisted calls of ``POST /v1/calls``.

A request's arguments are JSON values. Each one is parsed by the declared kind of the
parameter it binds to (``calls_whitelist`` declares them): numbers, shapes, dtype names, small
lists of numbers. Nothing else is accepted, nothing is imported, evaluated or looked up by a
name the request gives: a dtype name selects an entry of the parameter's own table.

A parsed value prints (``repr``) as the Python source of that argument, which is how the
reference program is written, and ``materialize`` turns it into what the library is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from app.core.errors import InvalidParameter
from app.core.inits.args import REQUIRED

Kind = Literal["int", "float", "bool", "size", "shape", "dims", "dtype", "choice", "numbers",
               "floats", "int_or_numbers", "tensor"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DIMS = 32
MAX_LIST = 100_000
"""Most entries of a list argument (a population, weights, probabilities)."""


@dataclass(frozen=True)
class DTypeArg:
    """A dtype argument: printed as ``np.float32`` / ``torch.float32``."""

    name: str
    module: str
    value: Any

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class TensorArg:
    """A small float tensor argument (torch ``input=``): ``torch.tensor([...])``."""

    values: tuple[float, ...]

    def __repr__(self) -> str:
        return f"torch.tensor({list(self.values)!r})"


def materialize(value: Any) -> Any:
    """What the library is given for a parsed value (a fresh list: calls may mutate it)."""
    if isinstance(value, DTypeArg):
        return value.value
    if isinstance(value, TensorArg):
        return torch.tensor(list(value.values))
    if isinstance(value, list):
        return list(value)
    return value


@dataclass(frozen=True)
class P:
    """One parameter of a whitelisted function."""

    name: str
    kind: Kind
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    choices: Mapping[str, Any] = field(default_factory=dict)
    """dtype: the names accepted and the library's dtype object for each."""
    module: str = "np"
    """dtype: how the dtype is written in the reference (``np`` or ``torch``)."""
    nullable: bool = False
    keyword_only: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        words = {
            "int": "integer", "float": "number", "bool": "true or false",
            "size": "null, an integer >= 0 or a list of them (numpy size)",
            "shape": "an integer >= 0 or a list of them",
            "dims": "integers >= 0, one per dimension",
            "dtype": "dtype name", "choice": "string",
            "numbers": "list of numbers (all integers or all floats)",
            "floats": "list of numbers", "int_or_numbers": "integer >= 0 or list of numbers",
            "tensor": "list of numbers (a float32 tensor)",
        }
        parts = [words[self.kind]]
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.min is not None:
            parts.append(f"{'>' if self.exclusive_min else '>='} {self.min:g}")
        if self.max is not None and self.kind != "int":
            parts.append(f"<= {self.max:g}")
        if self.nullable and self.kind != "size":
            parts.append("or null")
        if self.keyword_only:
            parts.append("keyword only")
        return ", ".join(parts)

    def parse(self, value: Any, where: str) -> Any:
        if value is None and (self.nullable or self.kind == "size"):
            return None
        if value is None:
            raise InvalidParameter(where, "must not be null")
        match self.kind:
            case "int":
                return self._range(_integer(value, where), where)
            case "float":
                return self._range(float(_real(value, where)), where)
            case "bool":
                if not isinstance(value, bool):
                    raise InvalidParameter(where, f"must be true or false, got {_short(value)}")
                return value
            case "dims":
                return _count(value, where)
            case "size" | "shape":
                if isinstance(value, list):
                    if len(value) > MAX_DIMS:
                        raise InvalidParameter(where, f"at most {MAX_DIMS} dimensions")
                    return tuple(_count(v, f"{where}[{i}]") for i, v in enumerate(value))
                return _count(value, where) if self.kind == "size" else (_count(value, where),)
            case "dtype":
                if not isinstance(value, str) or value not in self.choices:
                    raise InvalidParameter(where, f"must be one of {', '.join(self.choices)}, "
                                                  f"got {_short(value)}")
                return DTypeArg(value, self.module, self.choices[value])
            case "choice":
                if not isinstance(value, str) or value not in self.choices:
                    raise InvalidParameter(where, f"must be one of {', '.join(self.choices)}, "
                                                  f"got {_short(value)}")
                return value
            case "numbers":
                return _numbers(value, where, homogeneous=True)
            case "floats":
                return [float(v) for v in _numbers(value, where, homogeneous=False)]
            case "int_or_numbers":
                if isinstance(value, list):
                    return _numbers(value, where, homogeneous=True)
                return _count(value, where)
            case "tensor":
                return TensorArg(tuple(float(v) for v in
                                       _numbers(value, where, homogeneous=False)))
        raise AssertionError(self.kind)  # pragma: no cover

    def _range(self, x: float | int, where: str) -> float | int:
        if isinstance(x, float) and not math.isfinite(x):
            raise InvalidParameter(where, "must be finite")
        low = self.min if self.min is not None else (INT64_MIN if self.kind == "int" else None)
        high = self.max if self.max is not None else (INT64_MAX if self.kind == "int" else None)
        if low is not None and (x <= low if self.exclusive_min else x < low):
            raise InvalidParameter(where, f"must be {'>' if self.exclusive_min else '>='} "
                                          f"{low:g}, got {x!r}")
        if high is not None and x > high:
            raise InvalidParameter(where, f"must be <= {high:g}, got {x!r}")
        return x


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _real(value: Any, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(where, f"must be a number, got {_short(value)}")
    return value


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(where, f"must be an integer, got {_short(value)}")
    return value


def _count(value: Any, where: str) -> int:
    n = _integer(value, where)
    if not 0 <= n <= INT64_MAX:
        raise InvalidParameter(where, f"must be an integer >= 0, got {n}")
    return n


def _numbers(value: Any, where: str, homogeneous: bool) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidParameter(where, f"must be a list of numbers, got {_short(value)}")
    if len(value) > MAX_LIST:
        raise InvalidParameter(where, f"at most {MAX_LIST} entries, got {len(value)}")
    out: list[Any] = []
    for i, v in enumerate(value):
        x = _real(v, f"{where}[{i}]")
        if isinstance(x, float) and not math.isfinite(x):
            raise InvalidParameter(f"{where}[{i}]", "must be finite")
        if isinstance(x, int) and not INT64_MIN <= x <= INT64_MAX:
            raise InvalidParameter(f"{where}[{i}]", "must fit in 64 bits")
        out.append(x)
    if homogeneous and len({type(x) for x in out}) > 1:
        raise InvalidParameter(where, "must be all integers or all floats (its elements are "
                                      "returned as one dtype)")
    return out


def size_elements(size: int | tuple[int, ...] | None) -> int:
    """Elements a numpy ``size=`` (or a torch shape) makes: None is one value."""
    if size is None:
        return 1
    if isinstance(size, int):
        return size
    return math.prod(size)


@dataclass(frozen=True)
class Bound:
    """A call's arguments as given (positional and keyword, parsed), and every parameter's
    value by name (defaults filled in)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    values: dict[str, Any]


def bind(params: Sequence[P], args: Sequence[Any], kwargs: Mapping[str, Any], where: str,
         varargs: bool = False, overloads: Sequence[tuple[str, ...]] = ()) -> Bound:
    """Bind JSON arguments to parameters the way Python binds a call, parsing each value."""
    by_name = {p.name: p for p in params}
    if varargs:
        return _bind_varargs(params, args, kwargs, where)
    names = _positional_names(params, args, kwargs, where, overloads)
    values: dict[str, Any] = {}
    parsed_args = []
    for i, (name, raw) in enumerate(zip(names, args, strict=True)):
        value = by_name[name].parse(raw, f"{where}.args[{i}]")
        values[name] = value
        parsed_args.append(value)
    parsed_kwargs: dict[str, Any] = {}
    for key, raw in kwargs.items():
        if key not in by_name:
            raise InvalidParameter(f"{where}.kwargs.{key}", "unknown argument (it takes "
                                   f"{', '.join(by_name) or 'no arguments'})")
        if key in values:
            raise InvalidParameter(f"{where}.kwargs.{key}", "given positionally too")
        values[key] = parsed_kwargs[key] = by_name[key].parse(raw, f"{where}.kwargs.{key}")
    for p in params:
        if p.name not in values:
            if p.required:
                raise InvalidParameter(f"{where}.args", f"missing the argument {p.name!r}")
            values[p.name] = p.default
    return Bound(tuple(parsed_args), parsed_kwargs, values)


def _positional_names(params: Sequence[P], args: Sequence[Any], kwargs: Mapping[str, Any],
                      where: str, overloads: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    if overloads:  # torch.randint(high, size) / randint(low, high, size)
        required = {p.name for p in params if p.required}
        for names in overloads:
            taken = names[:len(args)]
            if (len(names) >= len(args) and not set(taken) & set(kwargs)
                    and required <= set(taken) | set(kwargs)):
                return taken
        forms = " or ".join(f"({', '.join(o)})" for o in overloads)
        raise InvalidParameter(f"{where}.args", f"matches none of its forms: {forms}")
    positional = [p.name for p in params if not p.keyword_only]
    if len(args) > len(positional):
        raise InvalidParameter(f"{where}.args", f"takes at most {len(positional)} positional "
                                                f"arguments, got {len(args)}")
    return tuple(positional[:len(args)])


def _bind_varargs(params: Sequence[P], args: Sequence[Any], kwargs: Mapping[str, Any],
                  where: str) -> Bound:
    """``f(*dims, <keyword-only>)``; torch also takes the sizes as one list."""
    dims, rest = params[0], {p.name: p for p in params[1:]}
    if dims.kind == "shape" and len(args) == 1 and isinstance(args[0], list):
        shape = dims.parse(args[0], f"{where}.args[0]")
        parsed_args: tuple[Any, ...] = (shape,)
    else:
        parsed_args = tuple(_count(a, f"{where}.args[{i}]") for i, a in enumerate(args))
        shape = parsed_args
    values: dict[str, Any] = {dims.name: shape}
    parsed_kwargs: dict[str, Any] = {}
    for key, raw in kwargs.items():
        if key not in rest:
            raise InvalidParameter(f"{where}.kwargs.{key}", "unknown argument (it takes "
                                   f"{', '.join(rest) or 'no keyword arguments'})")
        values[key] = parsed_kwargs[key] = rest[key].parse(raw, f"{where}.kwargs.{key}")
    for p in rest.values():
        values.setdefault(p.name, p.default)
    return Bound(parsed_args, parsed_kwargs, values)
