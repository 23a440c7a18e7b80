"""Parsing and validating distribution parameters, shared by every engine.

The registry says which parameters a distribution takes; these functions turn text
(or numbers, for library use) into checked numbers, and refuse, with the parameter's
name and the reason, anything the reference call would reject or turn into
non-finite values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.spec import DistributionSpec, Number, Param, Params

_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_MAX_DIGITS = 64
# Normal values from these libraries stay within ~10 standard deviations; 64 leaves a wide
# margin, so a request that passes cannot produce an infinite element.
NORMAL_SPAN = 64


def parse_int(name: str, value: str | Number) -> int:
    """A strict decimal integer (no fractions, exponents or underscores)."""
    if isinstance(value, bool):
        raise InvalidParameter(name, "must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise InvalidParameter(name, f"must be an integer, got {value!r}")
    text = value.strip()
    if len(text) > _MAX_DIGITS or not _INT.match(text):
        raise InvalidParameter(name, f"must be a decimal integer, got {value[:80]!r}")
    return int(text)


def parse_float(name: str, value: str | Number) -> float:
    """A finite decimal number."""
    if isinstance(value, bool):
        raise InvalidParameter(name, "must be a number, not a boolean")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = value.strip()
        if len(text) > _MAX_DIGITS or not _FLOAT.match(text):
            raise InvalidParameter(name, f"must be a finite decimal number, got {value[:80]!r}")
        number = float(text)
    if not math.isfinite(number):
        raise InvalidParameter(name, f"must be finite, got {value!r}")
    return number


_TRUE, _FALSE = ("true", "1"), ("false", "0")
WORD_MAX = 2**32 - 1


def parse_bool(name: str, value: str | Number) -> bool:
    """``true``/``false`` (or 1/0; any case), or a Python bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidParameter(name, f"must be true or false, got {str(value)[:80]!r}")


def parse_pair(name: str, value: str | Number) -> int:
    """``hi,lo``, two unsigned 32-bit integers, as hi * 2**32 + lo; an integer (library use)
    is taken as that packed form."""
    if not isinstance(value, str):
        packed = parse_int(name, value)
        if not 0 <= packed < 2**64:
            raise InvalidParameter(name, f"must be two uint32 words hi,lo, got {value!r}")
        return packed
    parts = value.split(",")
    if len(parts) != 2:
        raise InvalidParameter(name, f"must be two comma-separated words hi,lo, got "
                                     f"{str(value)[:80]!r}")
    hi, lo = (parse_int(name, part) for part in parts)
    if not (0 <= hi <= WORD_MAX and 0 <= lo <= WORD_MAX):
        raise InvalidParameter(name, f"words must be in 0..2**32-1, got {hi},{lo}")
    return hi << 32 | lo


def unpack_pair(packed: Number) -> tuple[int, int]:
    """A ``pair`` parameter's words (hi, lo)."""
    value = int(packed)
    return value >> 32, value & WORD_MAX


def _parse(p: Param, value: str | Number) -> Number:
    if p.kind == "int":
        return parse_int(p.name, value)
    if p.kind == "bool":
        return parse_bool(p.name, value)
    if p.kind == "pair":
        return parse_pair(p.name, value)
    return parse_float(p.name, value)


def parse_params(dist: DistributionSpec, raw: Mapping[str, str | Number]) -> dict[str, Number]:
    """Every parameter of ``dist``, parsed, with defaults filled in, in registry order."""
    names = [p.name for p in dist.params]
    for key in raw:
        if key not in names:
            takes = ", ".join(names) or "no parameters"
            raise InvalidParameter(key, f"not a parameter of {dist.name} (it takes {takes})")
    out: dict[str, Number] = {}
    for p in dist.params:
        value = raw.get(p.name)
        if value is None or value == "":
            if p.default is None:
                if p.optional:
                    continue
                raise InvalidParameter(p.name, f"required by {dist.name}")
            out[p.name] = p.default
        else:
            out[p.name] = _parse(p, value)
    return out


def _in_range(name: str, value: float, dtype: DType) -> None:
    if not dtype.min <= value <= dtype.max:
        raise InvalidParameter(
            name, f"{value!r} is outside the finite range of {dtype.name} "
                  f"[{dtype.min!r}, {dtype.max!r}]")


def check_uniform(params: Params, dtype: DType) -> None:
    low, high = float(params["low"]), float(params["high"])
    if not low < high:
        raise InvalidParameter("high", f"must be greater than low (low={low!r}, high={high!r})")
    _in_range("low", low, dtype)
    _in_range("high", high, dtype)
    if not high - low <= dtype.max:
        raise InvalidParameter("high", f"high - low overflows {dtype.name}")


def check_normal(params: Params, dtype: DType) -> None:
    loc, scale = float(params["loc"]), float(params["scale"])
    if scale < 0:
        raise InvalidParameter("scale", f"must be >= 0, got {scale!r}")
    _in_range("loc", loc, dtype)
    if not abs(loc) + NORMAL_SPAN * scale <= dtype.max:
        raise InvalidParameter(
            "scale", f"|loc| + {NORMAL_SPAN}*scale must stay within {dtype.name}'s finite range "
                     f"({dtype.max!r}) so that no element overflows")


def check_integers(params: Params, dtype: DType) -> None:
    low, high = int(params["low"]), int(params["high"])
    if not low < high:
        raise InvalidParameter("high", f"must be greater than low (high is exclusive; "
                                       f"low={low}, high={high})")
    if not dtype.min <= low <= dtype.max:
        raise InvalidParameter("low", f"{low} is outside {dtype.name} [{dtype.min}, {dtype.max}]")
    if not high - 1 <= dtype.max:
        raise InvalidParameter(
            "high", f"{high} is outside {dtype.name}: high is exclusive, at most {dtype.max + 1}")


UNIFORM_PARAMS = (
    Param("low", "float", 0.0, "Lower bound (inclusive)."),
    Param("high", "float", 1.0, "Upper bound (exclusive)."),
)
NORMAL_PARAMS = (
    Param("loc", "float", 0.0, "Mean."),
    Param("scale", "float", 1.0, "Standard deviation (>= 0)."),
)
INTEGER_PARAMS = (
    Param("low", "int", None, "Lowest value (inclusive).", example=0),
    Param("high", "int", None, "One above the highest value (exclusive).", example=10),
)

SMALL_INT_BUFFER = (
    "{lib} draws 8- and 16-bit integers from a bit buffer local to each call, so one call of "
    "n differs from calls that add up to n: there is no consistent sequence to slice"
)
