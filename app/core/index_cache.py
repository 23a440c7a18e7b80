"""A memory-budgeted LRU cache of whole index arrays (permutations), built once per key.

``get(key, need, build)`` returns the array of ``key``, building it with ``build`` when it
is absent. Admission is by bytes: a build first reserves ``need`` bytes (its peak memory),
evicting least-recently-used arrays to make room; when arrays being built by other
requests hold the budget, it waits for them. So concurrent requests never hold more than
the budget between them (an evicted array that a response is still sending lives on until
that response ends). Two requests for the same key build it once: the second waits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from app.core.errors import Unavailable
from app.core.spec import Array


@dataclass(frozen=True)
class IndexCacheStats:
    arrays: int
    building: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int
    evictions: int


class IndexCache:
    def __init__(self, max_bytes: int, wait_s: float = 120.0) -> None:
        self.max_bytes = max_bytes
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self._arrays: OrderedDict[Hashable, Array] = OrderedDict()
        self._building: set[Hashable] = set()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0

    def get(self, key: Hashable, need: int, build: Callable[[], Array]) -> Array:
        with self._cond:
            while True:
                arr = self._arrays.get(key)
                if arr is not None:
                    self._arrays.move_to_end(key)
                    self._hits += 1
                    return arr
                if key in self._building:
                    self._cond.wait(self.wait_s)
                    continue
                while self._bytes + need > self.max_bytes and self._arrays:
                    _, old = self._arrays.popitem(last=False)
                    self._bytes -= old.nbytes
                    self._evictions += 1
                if self._bytes + need <= self.max_bytes:
                    break
                if not self._cond.wait(self.wait_s):
                    raise Unavailable("n", "the permutation memory budget is held by other "
                                           "permutations being built; retry")
            self._misses += 1
            self._building.add(key)
            self._bytes += need
        try:
            arr = build()
        except BaseException:
            with self._cond:
                self._building.discard(key)
                self._bytes -= need
                self._cond.notify_all()
            raise
        with self._cond:
            self._building.discard(key)
            self._bytes += arr.nbytes - need
            self._arrays[key] = arr
            self._cond.notify_all()
        return arr

    def clear(self) -> None:
        with self._cond:
            for arr in self._arrays.values():
                self._bytes -= arr.nbytes
            self._arrays.clear()
            self._cond.notify_all()

    def stats(self) -> IndexCacheStats:
        with self._cond:
            return IndexCacheStats(len(self._arrays), len(self._building), self._bytes,
                                   self.max_bytes, self._hits, self._misses, self._evictions)
