"""torch's side of the element types: the torch dtype of each ``DType``, tensors in the
dtype's storage, and the bounds torch takes. At the bottom of the core: engines, the GPU
path, methods, inits, calls and the tensor formats all use it."""

from __future__ import annotations

import torch

from app.core.dtypes import DTYPES, DType
from app.core.errors import InvalidParameter
from app.core.spec import Array, Params

TORCH_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float64": torch.float64,
    "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "uint8": torch.uint8, "uint16": torch.uint16, "uint32": torch.uint32, "uint64": torch.uint64,
}
FLOATS = ("float32", "float64", "float16", "bfloat16")
"""torch's floating dtypes, in the order they are offered."""
INTS = ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64")
INT64_MAX = 2**63 - 1
"""torch takes integer bounds (randint's high) as int64."""


def dtype_of(t: torch.Tensor) -> DType:
    return DTYPES[str(t.dtype).removeprefix("torch.")]


def to_numpy(t: torch.Tensor) -> Array:
    """A CPU tensor's values in the dtype's storage (bfloat16: uint16 bit patterns)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.uint16).numpy()
    out: Array = t.numpy()
    return out


def check_int64_high(params: Params) -> None:
    """torch.randint's ``high`` is an int64: refuse a larger one by name."""
    if int(params["high"]) > INT64_MAX:
        raise InvalidParameter("high", f"torch.randint takes int64 bounds: high <= {INT64_MAX}")
