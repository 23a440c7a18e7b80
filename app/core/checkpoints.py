"""A bounded, thread-safe cache of generator states (checkpoints).

A checkpoint is the saved state of a stream's generator at an element position. A
slice starting at or after a checkpoint resumes from it instead of regenerating the
prefix, so a worker consuming a stream in consecutive slices pays for its count,
not for its offset. Checkpoints are evicted least-recently-used first when the
memory budget is exceeded.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CacheStats:
    checkpoints: int
    streams: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int
    evictions: int


class CheckpointCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Hashable, int], tuple[Any, int]] = OrderedDict()
        self._positions: dict[Hashable, list[int]] = {}
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0

    def nearest(self, stream: Hashable, position: int) -> tuple[int, Any] | None:
        """The checkpoint of ``stream`` at the largest position <= ``position``, if any."""
        with self._lock:
            positions = self._positions.get(stream)
            i = bisect.bisect_right(positions, position) if positions else 0
            if not positions or i == 0:
                self._misses += 1
                return None
            found = positions[i - 1]
            key = (stream, found)
            self._entries.move_to_end(key)
            self._hits += 1
            return found, self._entries[key][0]

    def put(self, stream: Hashable, position: int, state: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        with self._lock:
            key = (stream, position)
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            else:
                bisect.insort(self._positions.setdefault(stream, []), position)
            self._entries[key] = (state, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                self._evict_oldest()

    def _evict_oldest(self) -> None:
        (stream, position), (_, nbytes) = self._entries.popitem(last=False)
        self._bytes -= nbytes
        self._evictions += 1
        positions = self._positions[stream]
        del positions[bisect.bisect_left(positions, position)]
        if not positions:
            del self._positions[stream]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._positions.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries), len(self._positions), self._bytes,
                              self.max_bytes, self._hits, self._misses, self._evictions)
