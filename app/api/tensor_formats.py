"""Response formats of tensor dicts (inits, state_dicts): JSON, safetensors and .npz."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from app.api.formats import json_values
from app.api.tensor_stream import npz_chunks, safetensors_chunks, safetensors_length
from app.core.errors import InvalidParameter
from app.core.torch_dtypes import dtype_of, to_numpy

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "safetensors": "application/x-safetensors",
    "npz": "application/x-npz",
}
DESCRIPTIONS: dict[str, str] = {
    "json": "application/json: metadata, the reference code and `tensors`: name -> shape, dtype "
            "and the values flattened in row-major order, floats printed exactly.",
    "safetensors": "application/x-safetensors: what `safetensors.torch.load(body)` reads; the "
                   "metadata holds the seed, the reference code and the versions.",
    "npz": "application/x-npz: what `np.load(io.BytesIO(body))` reads, one array per tensor "
           "(not for bfloat16).",
}
CHUNK = 1 << 20


def check_format(fmt: str, tensors_dtype: str) -> None:
    if fmt == "npz" and tensors_dtype == "bfloat16":
        raise InvalidParameter("format", ".npz cannot carry bfloat16; use safetensors or json")


def encode(fmt: str, meta: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> Iterator[
        bytes | memoryview]:
    if fmt == "json":
        yield from _json(meta, tensors)
    elif fmt == "safetensors":
        yield from safetensors_chunks(tensors, _text_meta(meta))
    else:
        yield from npz_chunks({k: to_numpy(v) for k, v in tensors.items()})


def body_length(fmt: str, meta: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> int | None:
    """The exact length of ``encode``'s body where it is known before it is written."""
    return safetensors_length(tensors, _text_meta(meta)) if fmt == "safetensors" else None


def _text_meta(meta: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _json(meta: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> Iterator[
        bytes | memoryview]:
    head = json.dumps(meta, separators=(",", ":"))
    yield head[:-1].encode() + b',"tensors":{'
    for i, (name, t) in enumerate(tensors.items()):
        dt = dtype_of(t)
        flat = to_numpy(t).reshape(-1)
        info = json.dumps({"shape": list(t.shape), "dtype": dt.name}, separators=(",", ":"))
        yield (b"," if i else b"") + json.dumps(name).encode() + b":" + info[:-1].encode()
        yield b',"values":'
        yield from json_values(dt, (flat[j:j + CHUNK] for j in range(0, len(flat), CHUNK)))
        yield b"}"
    yield b"}}"
