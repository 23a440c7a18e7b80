"""Response formats of a slice: JSON, .npy and raw little-endian bytes.

Each encoder turns the chunks of a slice into chunks of bytes, so a large slice is sent
while it is generated, in bounded memory.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import numpy as np
import orjson

from app.core.dtypes import DType
from app.core.errors import AuthorityError, InvalidParameter
from app.core.spec import Array


class Format(StrEnum):
    json = "json"
    npy = "npy"
    raw = "raw"


MEDIA_TYPES: dict[Format, str] = {
    Format.json: "application/json",
    Format.npy: "application/x-npy",
    Format.raw: "application/octet-stream",
}
DESCRIPTIONS: dict[str, str] = {
    "json": "application/json: metadata, the reference call and the values; floats printed "
            "exactly (parse, cast to dtype: same bits).",
    "npy": "application/x-npy: a NumPy .npy file (np.load reads it); not for bfloat16.",
    "raw": "application/octet-stream: the values as little-endian bytes of dtype, no header.",
}


class NotAcceptable(AuthorityError):
    status = 406
    code = "not_acceptable"


def negotiate(format_param: str | None, accept: str | None) -> Format:
    """``format=`` wins; else the Accept type with the highest q; else JSON."""
    return Format(choose_format(format_param, accept, {f.value: m for f, m in MEDIA_TYPES.items()}))


def choose_format(format_param: str | None, accept: str | None, media: dict[str, str]) -> str:
    """``format=`` wins; else the Accept type with the highest q; else the first (JSON)."""
    default = next(iter(media))
    if format_param is not None:
        return format_param
    if not accept:
        return default
    by_media = {m: f for f, m in media.items()}
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        kind, *opts = (p.strip() for p in part.split(";"))
        q = 1.0
        for opt in opts:
            name, _, value = opt.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        fmt = by_media.get(kind) or (default if kind in ("*/*", "application/*") else None)
        if fmt is not None and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, fmt)
    if best is None:
        raise NotAcceptable("Accept", f"none of {accept!r} is served; use "
                                      f"{', '.join(media.values())} or format="
                                      f"{'|'.join(media)}")
    return best[2]


def check_format(fmt: Format, dtype: DType) -> None:
    if fmt is Format.npy and not dtype.npy:
        raise InvalidParameter("format", f".npy cannot carry {dtype.name}; use raw or json")


def npy_header(dtype: DType, count: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype.storage.str, "fortran_order": False, "shape": (count,)})
    return buf.getvalue()


def body_length(fmt: Format, dtype: DType, count: int) -> int | None:
    """Exact body length of the binary formats (JSON is not known in advance)."""
    if fmt is Format.json:
        return None
    header = len(npy_header(dtype, count)) if fmt is Format.npy else 0
    return header + count * dtype.itemsize


def encode(fmt: Format, dtype: DType, count: int, meta: dict[str, Any],
           chunks: Iterable[Array]) -> Iterator[bytes | memoryview]:
    if fmt is Format.json:
        yield from _json(meta, dtype, chunks)
        return
    if fmt is Format.npy:
        yield npy_header(dtype, count)
    for arr in chunks:
        yield arr.data.cast("B")  # no copy: the array's own little-endian bytes


def _json(meta: dict[str, Any], dtype: DType,
          chunks: Iterable[Array]) -> Iterator[bytes | memoryview]:
    # The metadata may hold integers beyond 64 bits (seeds): the standard library prints them.
    head = json.dumps(meta, separators=(",", ":"))
    yield head[:-1].encode() + b',"values":'
    yield from json_values(dtype, chunks)
    yield b"}"


def json_values(dtype: DType, chunks: Iterable[Array]) -> Iterator[bytes | memoryview]:
    """A JSON list of the values of all chunks, printed exactly, a chunk at a time."""
    yield b"["
    first = True
    for arr in chunks:
        if not len(arr):
            continue
        values = dtype.exact_values(arr)
        if dtype.kind == "float" and not np.isfinite(values).all():
            text = orjson.dumps(_nonfinite_as_strings(values))
        else:
            text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
        if not first:
            yield b","
        yield memoryview(text)[1:-1]  # the numbers without the list's brackets, uncopied
        first = False
    yield b"]"


NONFINITE = {math.inf: "inf", -math.inf: "-inf"}


def _nonfinite_as_strings(values: Array) -> list[float | str]:
    """Floats, with inf, -inf and nan as the strings "inf", "-inf", "nan" (JSON has no
    such numbers; ``float()`` and ``np.asarray(..., dtype)`` read the strings back)."""
    return [v if math.isfinite(v) else ("nan" if math.isnan(v) else NONFINITE[v])
            for v in values.tolist()]
