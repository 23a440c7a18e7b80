"""Element types a stream can have, and how their values are held.

Values are held in NumPy arrays. bfloat16 has no NumPy type: it is held as its raw
16-bit pattern in a ``uint16`` array, and converted exactly when printed as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["float", "int"]


@dataclass(frozen=True)
class DType:
    name: str
    kind: Kind
    storage: np.dtype[np.generic]
    """Little-endian NumPy dtype of the bytes held (bfloat16: uint16 bit patterns)."""
    npy: bool
    """Whether an .npy file can carry it (NumPy has no bfloat16)."""
    min: float | int
    max: float | int
    """Integers: the representable range. Floats: -max..max, the largest finite value."""

    @property
    def itemsize(self) -> int:
        return int(self.storage.itemsize)

    def exact_values(self, arr: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """The values as float64 (floats) or as the integer array itself.

        Every float16, bfloat16 and float32 value is exactly a float64, and the shortest
        repr of a float64 round-trips, so JSON printed from this array parses back and
        casts to the dtype with the same bits.
        """
        if self.name == "bfloat16":
            return (arr.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
        if self.kind == "float":
            return arr.astype(np.float64, copy=False)
        return arr


def _int(name: str) -> DType:
    info = np.iinfo(name)
    return DType(name, "int", np.dtype(name).newbyteorder("<"), True, int(info.min), int(info.max))


def _float(name: str) -> DType:
    info = np.finfo(name)
    return DType(name, "float", np.dtype(name).newbyteorder("<"), True, -float(info.max),
                 float(info.max))


DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        _float("float64"),
        _float("float32"),
        _float("float16"),
        DType("bfloat16", "float", np.dtype("<u2"), False, -3.3895313892515355e38,
              3.3895313892515355e38),
        *(_int(n) for n in ("int8", "int16", "int32", "int64",
                            "uint8", "uint16", "uint32", "uint64")),
    )
}
