"""Typed, validated keyword arguments for init functions and module constructors.

Nothing from a request is ever imported, evaluated or looked up by name beyond these
tables: every argument is declared with its kind and range, and anything else is refused
with the field's name and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.core.errors import InvalidParameter

Kind = Literal["float", "int", "bool", "choice", "ints", "padding"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Arg:
    name: str
    kind: Kind
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    length: int = 1
    """For ``ints``/``padding``: a list must have this many entries (an int stands for all);
    0: any number from 1 to 8."""
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        parts: list[str] = [self.kind]
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.min is not None:
            parts.append(f"{'>' if self.exclusive_min else '>='} {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.nullable:
            parts.append("or null")
        return ", ".join(parts)

    def parse(self, value: Any, field: str) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise InvalidParameter(field, "must not be null")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidParameter(field, f"must be true or false, got {value!r}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise InvalidParameter(field, f"must be one of {', '.join(self.choices)}, "
                                              f"got {value!r}")
            return value
        if self.kind == "float":
            return self._number(float(_real(value, field)), field)
        if self.kind == "int":
            return self._number(_integer(value, field), field)
        if self.kind == "padding" and value in ("same", "valid"):
            return value
        return self._ints(value, field)

    def _number(self, x: float, field: str) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            raise InvalidParameter(field, "must be finite")
        if self.min is not None and (x <= self.min if self.exclusive_min else x < self.min):
            raise InvalidParameter(field, f"must be {'>' if self.exclusive_min else '>='} "
                                          f"{self.min:g}, got {x!r}")
        if self.max is not None and x > self.max:
            raise InvalidParameter(field, f"must be <= {self.max:g}, got {x!r}")
        return x

    def _ints(self, value: Any, field: str) -> int | tuple[int, ...]:
        if isinstance(value, Sequence) and not isinstance(value, str):
            if (len(value) != self.length) if self.length else not 1 <= len(value) <= 8:
                count = self.length or "1 to 8"
                raise InvalidParameter(field, f"must be an integer or a list of {count}")
            return tuple(self._number(_integer(v, field), field) for v in value)
        return int(self._number(_integer(value, field), field))


INT_LIMIT = 2**63 - 1
"""Integers are checked against torch's int64 range before anything converts them."""


def _real(value: Any, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(field, f"must be a number, got {_show(value)}")
    if isinstance(value, int) and abs(value) > INT_LIMIT:
        raise InvalidParameter(field, f"must be finite and within +-{INT_LIMIT}, got "
                                      f"{_show(value)}")
    return value


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(field, f"must be an integer, got {_show(value)}")
    if abs(value) > INT_LIMIT:
        raise InvalidParameter(field, f"must be within +-{INT_LIMIT}, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    """A value for a message: huge integers by size, anything else cut to 80 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {len(str(abs(value))) if value.bit_length() < 4000 else 'many'}" \
               " digits"
    return repr(value)[:80]


def parse_args(specs: Sequence[Arg], raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The arguments given, parsed (defaults are left to torch), in declaration order."""
    names = {a.name for a in specs}
    for key in raw:
        if key not in names:
            takes = ", ".join(sorted(names)) or "no arguments"
            raise InvalidParameter(f"{where}.{key}", f"unknown argument (it takes {takes})")
    out: dict[str, Any] = {}
    for arg in specs:
        if arg.name in raw:
            out[arg.name] = arg.parse(raw[arg.name], f"{where}.{arg.name}")
        elif arg.required:
            raise InvalidParameter(f"{where}.{arg.name}", "required")
    return out


def value_of(args: Mapping[str, Any], spec: Sequence[Arg], name: str) -> Any:
    """An argument's value, given or default."""
    if name in args:
        return args[name]
    return next(a.default for a in spec if a.name == name)
