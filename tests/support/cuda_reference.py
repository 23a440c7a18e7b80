"""torch's CUDA uniform_ and randint, written out independently of the service's C kernel:
NumPy Philox4x32-10 (Random123's algorithm) and exact rational arithmetic for the fused
multiply-adds. Checked against Random123's known-answer vectors and the published
``torch.manual_seed(0); torch.rand(12, device="cuda")`` in tests/core/test_cuda.py.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

MASK = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr: list[npt.NDArray[np.uint64]], key: tuple[int, int]) -> list[
        npt.NDArray[np.uint64]]:
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    c = [np.asarray(x, dtype=np.uint64) for x in ctr]
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ k0) & MASK, p1 & MASK,
             ((p0 >> np.uint64(32)) ^ c[3] ^ k1) & MASK, p0 & MASK]
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & MASK, (k1 + np.uint64(0xBB67AE85)) & MASK
    return c


def words(seed: int, n: int, wave: int, unroll: int, offset: int = 0, start: int = 0) -> list[
        npt.NDArray[np.uint64]]:
    """For elements 0..n-1 of a call made at generator offset ``offset`` (a multiple of 4):
    the four curand4 words of the call that makes each one, and which group (ii) of them it
    takes, as [x, y, z, w, ii]. Elements before ``start`` are left out (each element depends
    only on its own index)."""
    li = np.arange(start, max(start, n), dtype=np.uint64)
    k, r = li // np.uint64(wave * unroll), li % np.uint64(wave * unroll)
    k = k + np.uint64(offset // 4)
    ii, tid = r // np.uint64(wave), r % np.uint64(wave)
    out = philox4x32_10([k & MASK, k >> np.uint64(32), tid & MASK, tid >> np.uint64(32)],
                        (seed & 0xFFFFFFFF, seed >> 32))
    return [*out, ii]


def _round_float(x: Fraction, dtype: Any) -> Any:
    """x rounded to the nearest value of a binary float dtype (ties to even)."""
    guess = np.array(float(x)).astype(dtype)
    best = None
    for cand in (np.nextafter(guess, dtype(-np.inf)), guess, np.nextafter(guess, dtype(np.inf))):
        dist = abs(Fraction(float(cand)) - x)
        even = int(np.array(cand).view(np.uint32 if dtype == np.float32 else np.uint64)) & 1 == 0
        key = (dist, not even)
        if best is None or key < best[0]:
            best = (key, cand)
    assert best is not None
    return best[1]


def _to_bf16_bits(x: float) -> int:
    bits = int(np.array(x, dtype=np.float32).view(np.uint32))
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def uniform(seed: int, n: int, wave: int, dtype: str, low: float, high: float,
            offset: int = 0, start: int = 0) -> npt.NDArray[Any]:
    if dtype == "float64":
        x, y, z, w, ii = words(seed, n, wave, 2, offset, start)
        first, second = np.where(ii == 0, x, z), np.where(ii == 0, y, w)
        zz = first ^ (second << np.uint64(21))
        if (low, high) == (0.0, 1.0):  # fma(u, 1, 0) == u: no rounding to redo
            u64 = zz.astype(np.float64) * 2.0**-53 + 2.0**-54  # one rounding, as on the GPU
            return np.where(u64 == 1.0, 0.0, u64)
        out = []
        rng = high - low  # to - from, in double
        for v in zz.tolist():
            u = float(_round_float(Fraction(v, 2**53) + Fraction(1, 2**54), np.float64))
            value = float(_round_float(Fraction(u) * Fraction(rng) + Fraction(low), np.float64))
            out.append(low if value == high else value)
        return np.array(out, dtype=np.float64)
    x, y, z, w, ii = words(seed, n, wave, 4, offset, start)
    u32 = np.choose(ii.astype(np.int64), [x, y, z, w]).astype(np.uint64)
    f = u32.astype(np.float32) * np.float32(2**-32) + np.float32(2**-33)  # product exact
    # from, to, range in the dtype; rand * range + from fused in float; cast to the dtype
    if dtype == "bfloat16":
        def cast(v: float) -> float:
            return float(np.array(_to_bf16_bits(v) << 16, dtype=np.uint32).view(np.float32))
    else:
        def cast(v: float) -> float:
            return float(np.array(v, dtype=np.float32).astype(dtype))
    frm, to = cast(low), cast(high)
    if (low, high) == (0.0, 1.0):  # fma(u, 1, 0) == u
        if dtype == "bfloat16":  # cast first, then a value equal to `to` (1.0) becomes 0
            bits = np.array([_to_bf16_bits(v) for v in f.tolist()], dtype=np.uint16)
            return np.where(bits == 0x3F80, np.uint16(0), bits)
        cast_fast = f.astype(dtype)
        return np.where(cast_fast == np.array(1.0, dtype=dtype), np.array(0.0, dtype=dtype),
                        cast_fast)
    rng = float(np.float32(cast(float(np.float32(to) - np.float32(frm)))))
    values = []
    for u in f.tolist():
        exact = Fraction(u) * Fraction(rng) + Fraction(frm)
        v = float(_round_float(exact, np.float32))
        v = cast(v)
        values.append(frm if v == to else v)
    if dtype == "bfloat16":
        return np.array([_to_bf16_bits(v) for v in values], dtype=np.uint16)
    return np.array(values, dtype=dtype)


def integers(seed: int, n: int, wave: int, dtype: str, low: int, high: int,
             offset: int = 0, start: int = 0) -> npt.NDArray[Any]:
    width = high - low
    if width >= 2**28:
        x, y, z, w, ii = words(seed, n, wave, 2, offset, start)
        raw = [int(a) << 32 | int(b) for a, b in zip(np.where(ii == 0, x, z).tolist(),
                                                     np.where(ii == 0, y, w).tolist(),
                                                     strict=True)]
    else:
        x, y, z, w, ii = words(seed, n, wave, 4, offset, start)
        raw = np.choose(ii.astype(np.int64), [x, y, z, w]).tolist()
    out = []
    for r in raw:
        v = ((r % width) + low) % 2**64
        out.append(v - 2**64 if v >= 2**63 else v)
    return np.array(out, dtype=np.int64).astype(dtype)
