"""Elements [start, start + n) of ``jax.random`` streams, bit-exactly, in O(1) per element.

Under JAX's default partitionable threefry, element i of ``bits/uniform/randint/normal(key,
(N,), ...)`` depends only on the key and i (never on N), so a slice is computed directly
(``_threefry.c``). ``bits``, ``uniform`` and ``randint`` need no JAX; ``normal`` applies
JAX's own ``erf_inv`` to the uniform values this module computes, so it needs JAX at run
time (:class:`NeedsJax` otherwise). Each transform follows jax/_src/random/core.py of the
pinned JAX (``_uniform``, ``_randint``, ``_normal_real``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

import numpy as np

from app.core.errors import AuthorityError, InvalidParameter
from app.core.jax import _threefry
from app.core.jax.keys import Key
from app.core.spec import Array

COUNTER_SPACE = 2**64
"""A stream has 2**64 elements: the counter is a uint64 split into two uint32 words."""
BITS_DTYPES = ("uint32", "uint8", "uint16", "uint64")
FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int8", "int16", "int64", "uint8", "uint16", "uint32", "uint64")
NORMAL_CHUNK = 1 << 16
"""normal runs JAX's erf_inv on chunks padded to a power of two (at most this many
elements): a few compiled shapes serve every count."""


class NeedsJax(AuthorityError):
    status = 501
    code = "needs_jax"


def x64_only(dtype: str) -> bool:
    """64-bit dtypes exist in JAX only with ``jax_enable_x64`` (else it silently makes
    32-bit values)."""
    return dtype.endswith("64")


def check_window(start: int, n: int) -> None:
    if start < 0 or n < 0 or start + n > COUNTER_SPACE:
        raise InvalidParameter("offset", f"JAX streams have 2**64 elements: offset + count "
                                         f"must be <= 2**64, got {start} + {n}")


def bits(key: Key, start: int, n: int, dtype: str) -> Array:
    """``jax.random.bits(key, (N,), dtype)[start:start + n]``."""
    check_window(start, n)
    if dtype == "uint64":
        out64 = np.empty(n, dtype="<u8")
        _threefry.bits64(out64, key.hi, key.lo, start)
        return out64
    out = np.empty(n, dtype="<u4")
    _threefry.bits32(out, key.hi, key.lo, start)
    return out if dtype == "uint32" else out.astype(dtype)  # truncation, as XLA's convert


def in_dtype(name: str, value: float, dtype: str) -> float:
    """value rounded to dtype (as ``lax.convert_element_type``), refused if not finite."""
    with np.errstate(over="ignore"):
        rounded = float(np.array(value, dtype=np.float64).astype(dtype))
    if not np.isfinite(rounded):
        raise InvalidParameter(name, f"{value!r} is outside {dtype}'s finite range")
    if rounded and abs(rounded) < np.finfo(dtype).smallest_normal:
        raise InvalidParameter(name, f"{value!r} is subnormal in {dtype}: XLA:CPU flushes "
                                     "subnormals to zero; give 0 or a normal number")
    return rounded


def check_uniform(minval: float, maxval: float, dtype: str) -> None:
    lo, hi = in_dtype("minval", minval, dtype), in_dtype("maxval", maxval, dtype)
    if not minval < maxval:
        raise InvalidParameter("maxval", f"must be greater than minval (minval={minval!r}, "
                                         f"maxval={maxval!r})")
    with np.errstate(over="ignore"):
        span = np.array(hi, dtype=dtype) - np.array(lo, dtype=dtype)
    if not np.isfinite(span):
        raise InvalidParameter("maxval", f"maxval - minval overflows {dtype}")
    if abs(span) < np.finfo(dtype).smallest_normal:
        raise InvalidParameter("maxval", f"maxval - minval is subnormal in {dtype}, which "
                                         "XLA:CPU flushes to zero")


def uniform(key: Key, start: int, n: int, dtype: str, minval: float = 0.0,
            maxval: float = 1.0) -> Array:
    """``jax.random.uniform(key, (N,), dtype, minval, maxval)[start:start + n]`` as
    XLA:CPU computes it (one fused multiply-add)."""
    check_window(start, n)
    lo, hi = in_dtype("minval", minval, dtype), in_dtype("maxval", maxval, dtype)
    if dtype == "float64":
        out64 = np.empty(n, dtype="<f8")
        _threefry.uniform64(out64, key.hi, key.lo, start, lo, hi)
        return out64
    if dtype != "float32":
        raise InvalidParameter("dtype", f"uniform takes float32 or float64, not {dtype}")
    out = np.empty(n, dtype="<f4")
    _threefry.uniform32(out, key.hi, key.lo, start, lo, hi)
    return out


def _rem(x: int, span: int) -> int:
    """XLA's unsigned remainder: x % 0 is x."""
    return x % span if span else x


def _clip(value: int, lo: int, hi: int) -> int:
    return min(max(value, lo), hi)


@dataclass(frozen=True)
class RandintPlan:
    """What ``jax.random.randint`` computes from its bounds, before drawing any bits."""

    dtype: str
    """The dtype asked for."""
    nbits: int
    """Width of the drawn bits: 32 for 8-, 16- and 32-bit dtypes, 64 for 64-bit ones."""
    minval: int
    """minval after JAX's clipping, in the sampling dtype."""
    span: int
    """(maxval - minval) as an unsigned nbits integer after JAX's adjustments (0: 2**nbits)."""
    multiplier: int
    """2**nbits % span, computed as JAX does."""
    signed: bool
    """Whether the sampling dtype is signed (it is int32 for 8- and 16-bit dtypes)."""


def randint_plan(minval: int, maxval: int, dtype: str, x64: bool) -> RandintPlan:
    """The bounds as ``jax.random.randint(key, shape, minval, maxval, dtype)`` treats
    Python ints: converted to int32 (int64 with x64), clipped into the dtype (8- and
    16-bit dtypes are sampled as int32 with maxval clipped to one past the dtype's
    maximum), span = maxval - minval (1 when maxval <= minval; one more when maxval is
    past the dtype's range), sampled from 2 * nbits bits with a modulus."""
    bound_bits = 64 if x64 else 32
    bmin, bmax = -(2 ** (bound_bits - 1)), 2 ** (bound_bits - 1) - 1
    for name, value in (("minval", minval), ("maxval", maxval)):
        if not bmin <= value <= bmax:
            raise InvalidParameter(
                name, f"{value} does not fit int{bound_bits}: jax.random.randint turns a "
                      f"Python int bound into an int{bound_bits} array "
                      f"({'x64=true' if x64 else 'x64=false'}) and raises OverflowError")
    info = np.iinfo(dtype)
    if info.bits < 32:  # sampled as int32; bounds go through astype(int32) and a clip
        minval = _clip(_wrap_int32(minval), int(info.min), int(info.max))
        maxval = _clip(_wrap_int32(maxval), int(info.min), int(info.max) + 1)
        sample: np.iinfo[Any] = np.iinfo(np.int32)
        bmin, bmax = int(sample.min), int(sample.max)
    else:
        sample = info
    smin, smax = int(sample.min), int(sample.max)
    nbits = sample.bits
    out_of_range = maxval > min(smax, bmax)
    lo, hi = max(smin, bmin), min(smax, bmax)
    minval, maxval = _clip(minval, lo, hi), _clip(maxval, lo, hi)
    modulus = 2**nbits
    span = (maxval - minval) % modulus
    if maxval <= minval:
        span = 1
    if out_of_range and maxval > minval:
        span = (span + 1) % modulus
    multiplier = _rem(2 ** (nbits // 2), span)
    multiplier = _rem(multiplier * multiplier % modulus, span)
    return RandintPlan(dtype, nbits, minval, span, multiplier, smin < 0)


def _wrap_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def randint(key: Key, start: int, n: int, plan: RandintPlan) -> Array:
    """``jax.random.randint(key, (N,), minval, maxval, dtype)[start:start + n]``: the high
    and low bits come from ``split(key)`` (``fold_in(key, 0)`` and ``fold_in(key, 1)``)."""
    check_window(start, n)
    raw = "uint64" if plan.nbits == 64 else "uint32"
    higher = bits(key.fold_in(0), start, n, raw)
    lower = bits(key.fold_in(1), start, n, raw)
    utype = higher.dtype.type
    span, mult = utype(plan.span), utype(plan.multiplier)
    # unsigned nbits arithmetic, wrapping as XLA's; a span of 0 leaves remainders unchanged
    if plan.span:
        np.remainder(higher, span, out=higher)
        np.remainder(lower, span, out=lower)
    offset = np.multiply(higher, mult, out=higher)
    np.add(offset, lower, out=offset)
    if plan.span:
        np.remainder(offset, span, out=offset)
    np.add(offset, utype(plan.minval % 2**plan.nbits), out=offset)
    signed = offset.view(f"<i{plan.nbits // 8}") if plan.signed else offset
    return signed if signed.dtype == np.dtype(plan.dtype) else signed.astype(plan.dtype)


def jax_version() -> str | None:
    """The installed JAX's version, or None (without importing it)."""
    try:
        return metadata.version("jax")
    except metadata.PackageNotFoundError:
        return None


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None


def _needs_jax() -> NeedsJax:
    return NeedsJax("distribution", "jax-threefry normal applies JAX's own erf_inv (XLA's "
                    "polynomial, not reproduced without JAX), and JAX is not installed on "
                    "this authority: install the optional extra, pip install "
                    "'seed-authority[jax]'. bits, uniform and randint need no JAX.")


@cache
def _erf_inv(dtype: str) -> Callable[[Array], Any]:
    """JAX's ``sqrt(2) * erf_inv(u)`` (the last step of ``jax.random.normal``), jitted
    (compiled once per input size)."""
    import jax
    from jax import lax
    from jax._src.lax import special

    sqrt2 = np.array(np.sqrt(2), dtype)
    return jax.jit(lambda u: lax.mul(sqrt2, special.erf_inv(u)))


def normal(key: Key, start: int, n: int, dtype: str) -> Array:
    """``jax.random.normal(key, (N,), dtype)[start:start + n]``: JAX's erf_inv applied to
    ``uniform(key, ..., minval=nextafter(-1, 0), maxval=1)`` (needs JAX installed)."""
    if not jax_available():
        raise _needs_jax()
    check_window(start, n)
    lo = float(np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype)))
    u = uniform(key, start, n, dtype, lo, 1.0)
    out = np.empty_like(u)
    import jax

    with jax.enable_x64(dtype == "float64"):  # thread-local: float64 arrays stay float64
        for at in range(0, n, NORMAL_CHUNK):
            part = u[at:at + NORMAL_CHUNK]
            size = max(256, 1 << (len(part) - 1).bit_length())
            padded = np.zeros(size, dtype=u.dtype)
            padded[:len(part)] = part
            out[at:at + len(part)] = np.asarray(_erf_inv(dtype)(padded))[:len(part)]
    return out


def sample(dist: str, key: Key, start: int, n: int, dtype: str,
           params: Mapping[str, float | int], x64: bool = False) -> Array:
    """``jax.random.<dist>(key, (N,), dtype, **params)[start:start + n]`` by JAX's name
    (bits, uniform, randint, normal) and parameters (minval, maxval)."""
    if dist == "bits":
        return bits(key, start, n, dtype)
    if dist == "uniform":
        return uniform(key, start, n, dtype, float(params.get("minval", 0.0)),
                       float(params.get("maxval", 1.0)))
    if dist == "randint":
        plan = randint_plan(int(params["minval"]), int(params["maxval"]), dtype, x64)
        return randint(key, start, n, plan)
    if dist == "normal":
        return normal(key, start, n, dtype)
    raise ValueError(f"jax.random has no stream named {dist!r} here")
