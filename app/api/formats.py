"""Response formats, one vocabulary for every resource: slices of streams (JSON, .npy, raw
little-endian bytes) and dicts of tensors (JSON, safetensors, .npz).

Each encoder turns its values into pieces of bytes, so a large body is sent while it is
made, in bounded memory: a slice chunk by chunk as it is generated, tensors straight from
their memory (``tensor_stream``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Any

import numpy as np
import orjson
import torch

from app.api.tensor_stream import npz_chunks, safetensors_chunks, safetensors_length
from app.core.dtypes import DType
from app.core.errors import AuthorityError, InvalidParameter
from app.core.spec import Array
from app.core.torch_dtypes import dtype_of, to_numpy

Piece = bytes | memoryview


class Format(StrEnum):
    json = "json"
    npy = "npy"
    raw = "raw"
    safetensors = "safetensors"
    npz = "npz"


MEDIA_TYPES: dict[Format, str] = {
    Format.json: "application/json",
    Format.npy: "application/x-npy",
    Format.raw: "application/octet-stream",
    Format.safetensors: "application/x-safetensors",
    Format.npz: "application/x-npz",
}
SLICE_FORMATS = (Format.json, Format.npy, Format.raw)
"""What a slice of a stream (or of an index order) is served as; JSON first: the default."""
TENSOR_FORMATS = (Format.json, Format.safetensors, Format.npz)
"""What a dict of tensors (inits, call results) is served as."""

DESCRIPTIONS: dict[str, str] = {
    "json": "application/json: metadata, the reference call and the values; floats printed "
            "exactly (parse, cast to dtype: same bits).",
    "npy": "application/x-npy: a NumPy .npy file (np.load reads it); not for bfloat16.",
    "raw": "application/octet-stream: the values as little-endian bytes of dtype, no header.",
}
"""The slice formats, as /v1/engines lists them."""
TENSOR_DESCRIPTIONS: dict[str, str] = {
    "json": "application/json: metadata, the reference code and `tensors`: name -> shape, dtype "
            "and the values flattened in row-major order, floats printed exactly.",
    "safetensors": "application/x-safetensors: what `safetensors.torch.load(body)` reads; the "
                   "metadata holds the seed, the reference code and the versions.",
    "npz": "application/x-npz: what `np.load(io.BytesIO(body))` reads, one array per tensor "
           "(not for bfloat16).",
}
"""The tensor formats, as /v1/inits lists them."""
CHUNK = 1 << 20
"""Elements of a tensor printed as JSON at a time."""


class NotAcceptable(AuthorityError):
    status = 406
    code = "not_acceptable"


def negotiate(format_param: str | None, accept: str | None,
              offered: tuple[Format, ...] = SLICE_FORMATS) -> Format:
    """``format=`` wins; else the Accept type with the highest q among ``offered``; else
    the first offered (JSON)."""
    if format_param is not None:
        return Format(format_param)
    if not accept:
        return offered[0]
    by_media = {MEDIA_TYPES[f]: f for f in offered}
    best: tuple[float, int, Format] | None = None
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
        fmt = by_media.get(kind) or (offered[0] if kind in ("*/*", "application/*") else None)
        if fmt is not None and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, fmt)
    if best is None:
        raise NotAcceptable("Accept", f"none of {accept!r} is served; use "
                                      f"{', '.join(MEDIA_TYPES[f] for f in offered)} or format="
                                      f"{'|'.join(offered)}")
    return best[2]


def check_format(fmt: Format, dtype: DType) -> None:
    """.npy and .npz have no bfloat16."""
    if fmt in (Format.npy, Format.npz) and not dtype.npy:
        others = "raw or json" if fmt is Format.npy else "safetensors or json"
        raise InvalidParameter("format", f".{fmt.value} cannot carry {dtype.name}; use {others}")


# --- slices ---------------------------------------------------------------------------------

def npy_header(dtype: DType, count: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype.storage.str, "fortran_order": False, "shape": (count,)})
    return buf.getvalue()


def body_length(fmt: Format, dtype: DType, count: int) -> int | None:
    """Exact body length of a slice in the binary formats (JSON is not known in advance)."""
    if fmt is Format.json:
        return None
    header = len(npy_header(dtype, count)) if fmt is Format.npy else 0
    return header + count * dtype.itemsize


def encode(fmt: Format, dtype: DType, count: int, head: bytes | dict[str, Any],
           chunks: Iterable[Array]) -> Iterator[Piece]:
    """A slice's body. ``head`` is the JSON metadata: a dict, or the text of the object up
    to and including ``"values":`` (``slice_meta.SliceHead`` builds it)."""
    if fmt is Format.json:
        yield head if isinstance(head, bytes) else json_head(head, "values")
        yield from json_values(dtype, chunks)
        yield b"}"
        return
    if fmt is Format.npy:
        yield npy_header(dtype, count)
    for arr in chunks:
        yield arr.data.cast("B")  # no copy: the array's own little-endian bytes


def json_head(meta: Mapping[str, Any], key: str) -> bytes:
    """``{...meta...,"<key>":`` (the metadata may hold integers beyond 64 bits, seeds:
    the standard library prints them exactly)."""
    return json.dumps(meta, separators=(",", ":"))[:-1].encode() + f',"{key}":'.encode()


def json_values(dtype: DType, chunks: Iterable[Array]) -> Iterator[Piece]:
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


# --- tensors --------------------------------------------------------------------------------

def tensor_values(t: torch.Tensor) -> Iterator[Piece]:
    """The JSON list of a tensor's values, flattened in row-major order."""
    flat = to_numpy(t).reshape(-1)
    return json_values(dtype_of(t), (flat[j:j + CHUNK] for j in range(0, len(flat), CHUNK)))


def encode_tensors(fmt: Format, meta: dict[str, Any],
                   tensors: Mapping[str, torch.Tensor]) -> Iterator[Piece]:
    if fmt is Format.json:
        yield from _tensors_json(meta, tensors)
    elif fmt is Format.safetensors:
        yield from safetensors_chunks(tensors, _text_meta(meta))
    else:
        yield from npz_chunks({k: to_numpy(v) for k, v in tensors.items()})


def tensors_length(fmt: Format, meta: dict[str, Any],
                   tensors: Mapping[str, torch.Tensor]) -> int | None:
    """The exact length of ``encode_tensors``' body where it is known before it is written."""
    return (safetensors_length(tensors, _text_meta(meta)) if fmt is Format.safetensors
            else None)


def _text_meta(meta: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _tensors_json(meta: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> Iterator[Piece]:
    yield json_head(meta, "tensors") + b"{"
    for i, (name, t) in enumerate(tensors.items()):
        info = json.dumps({"shape": list(t.shape), "dtype": dtype_of(t).name},
                          separators=(",", ":"))
        yield (b"," if i else b"") + json.dumps(name).encode() + b":" + info[:-1].encode()
        yield b',"values":'
        yield from tensor_values(t)
        yield b"}"
    yield b"}}"
