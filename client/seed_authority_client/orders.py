"""Index orders served by the authority: permutations, DistributedSampler shards, DataLoader
epochs. An ``IndexOrder`` is a finite remote int64 array, sliced and fetched in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from seed_authority_client.authority import Authority

Ints = npt.NDArray[np.int64]


class IndexOrder:
    """``order[a:b]`` (an int64 array), ``order[i]``, ``len(order)``, ``order.meta``
    (the server's JSON fields without the values) and chunked iteration."""

    def __init__(self, authority: Authority, path: str, query: Mapping[str, Any]) -> None:
        self.authority, self.path, self.query = authority, path, dict(query)
        self._meta: dict[str, Any] | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The JSON document of an empty slice: sizes, seeds, reference, versions."""
        if self._meta is None:
            body: dict[str, Any] = self.authority.request(
                "GET", self.path, params=self.query | {"offset": 0, "count": 0}).json()
            body.pop("values", None)
            self._meta = body
        return self._meta

    def __len__(self) -> int:
        meta = self.meta
        return int(meta.get("num_samples", meta.get("n", 0)))

    def fetch(self, offset: int, count: int) -> Ints:
        """Elements [offset, offset + count), in requests of at most ``chunk`` elements."""
        parts = [self._one(start, min(self.authority.chunk, offset + count - start))
                 for start in range(offset, offset + count, self.authority.chunk)]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _one(self, offset: int, count: int) -> Ints:
        from seed_authority_client.authority import AuthorityUnavailable

        resp = self.authority.request("GET", self.path, params=self.query | {
            "offset": offset, "count": count, "format": "raw", "dtype": "int64"})
        if (resp.headers["x-offset"], resp.headers["x-count"]) != (str(offset), str(count)):
            raise AuthorityUnavailable("the server answered another slice")
        if len(resp.content) != 8 * count:
            raise AuthorityUnavailable(f"{len(resp.content)} bytes for {count} int64")
        return np.frombuffer(resp.content, dtype="<i8")

    def __getitem__(self, key: int | slice) -> Any:
        total = len(self)
        if isinstance(key, int):
            index = key + total if key < 0 else key
            if not 0 <= index < total:
                raise IndexError(f"index {key} out of range for {total} elements")
            return int(self.fetch(index, 1)[0])
        start, stop, step = key.indices(total)
        if step != 1:
            return self.fetch(0, total)[key]
        return self.fetch(start, max(0, stop - start))

    def chunks(self, size: int | None = None) -> Iterator[Ints]:
        size = size or self.authority.chunk
        total = len(self)
        for start in range(0, total, size):
            yield self.fetch(start, min(size, total - start))

    def __iter__(self) -> Iterator[int]:
        for chunk in self.chunks():
            yield from chunk.tolist()
