"""safetensors and .npz bodies written a piece at a time, straight from the tensors' memory.

No serialised copy of a tensor is ever held: a body is its header, then views of each
tensor's bytes in CHUNK-sized pieces (and, for .npz, the zip records around them), so a
request holds its tensors plus one chunk, however large they are.
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Iterator, Mapping

import numpy as np
import torch

CHUNK = 1 << 22
# safetensors dtype names, and its on-disk order: tensors sorted by dtype (its enum order,
# descending), then by name, as safetensors.torch.save lays them out.
SAFETENSORS_DTYPES: dict[torch.dtype, tuple[str, int]] = {
    torch.bool: ("BOOL", 0), torch.uint8: ("U8", 4), torch.int8: ("I8", 5),
    torch.int16: ("I16", 9), torch.float16: ("F16", 11), torch.bfloat16: ("BF16", 12),
    torch.int32: ("I32", 13), torch.float32: ("F32", 15), torch.float64: ("F64", 16),
    torch.int64: ("I64", 17), torch.uint16: ("U16", 10), torch.uint32: ("U32", 14),
    torch.uint64: ("U64", 18),
}


def _bytes_of(t: torch.Tensor) -> memoryview:
    """The tensor's little-endian bytes, uncopied when it is contiguous."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)
    arr = t.numpy().reshape(-1)
    return arr.view(np.uint8).data


def _pieces(data: memoryview) -> Iterator[memoryview]:
    for i in range(0, len(data), CHUNK):
        yield data[i:i + CHUNK]


def _safetensors_layout(tensors: Mapping[str, torch.Tensor],
                        metadata: Mapping[str, str]) -> tuple[bytes, list[str]]:
    """The header (length prefix included) and the order of the tensors' data."""
    order = sorted(tensors, key=lambda n: (-SAFETENSORS_DTYPES[tensors[n].dtype][1], n))
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    start = 0
    for name in order:
        t = tensors[name]
        end = start + t.numel() * t.element_size()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype][0], "shape": list(t.shape),
                        "data_offsets": [start, end]}
        start = end
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text, order


def safetensors_length(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> int:
    """The length of the body ``safetensors_chunks`` writes."""
    head, _ = _safetensors_layout(tensors, metadata)
    return len(head) + sum(t.numel() * t.element_size() for t in tensors.values())


def safetensors_chunks(tensors: Mapping[str, torch.Tensor],
                       metadata: Mapping[str, str]) -> Iterator[bytes | memoryview]:
    """What ``safetensors.torch.save(tensors, metadata)`` returns, in pieces."""
    head, order = _safetensors_layout(tensors, metadata)
    yield head
    for name in order:
        yield from _pieces(_bytes_of(tensors[name]))


class _Sink:
    """A write-only, unseekable file whose writes are collected and taken in turns."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.written = 0

    def write(self, data: bytes | memoryview) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        parts, self.parts = self.parts, []
        return parts


def npz_chunks(arrays: Mapping[str, np.ndarray]) -> Iterator[bytes | memoryview]:
    """What ``np.savez(file, **arrays)`` writes (an uncompressed zip of .npy files), in
    pieces; the zip is streamed (sizes in data descriptors), which np.load reads."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED,  # type: ignore[call-overload]
                         allowZip64=True) as zf:
        for name, given in arrays.items():
            arr = given if given.flags.c_contiguous else given.copy(order="C")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            with zf.open(info, mode="w", force_zip64=True) as entry:
                header = _npy_header(arr)
                entry.write(header)
                yield from sink.take()
                data = arr.reshape(-1).view(np.uint8).data
                for piece in _pieces(data):
                    entry.write(piece)
                    yield from sink.take()
            yield from sink.take()
    yield from sink.take()


def _npy_header(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(arr))
    return buf.getvalue()
