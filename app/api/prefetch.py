"""A body made in a producer thread while the event loop sends it.

``Prefetched(pieces)`` is an async iterator over a synchronous one (a slice's encoder, which
generates as it is iterated): a thread of its own pool pulls piece k+1 while piece k is being
sent, at most ``depth`` pieces ahead, so memory stays bounded whatever the body's size. The
pieces go to the socket as they are (memoryviews of the generator's arrays, uncopied).

If the consumer stops early (the client went away), the producer is told to stop and the
source iterator is closed in its thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

Piece = bytes | memoryview

PRODUCERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slice-producer")
"""Threads that generate large bodies: at most this many are generated at once (more wait
their turn); the small ones are made on the event loop or in the framework's pool."""

_DONE = object()


class Prefetched:
    def __init__(self, pieces: Iterator[Piece], depth: int = 2,
                 executor: ThreadPoolExecutor = PRODUCERS) -> None:
        self._pieces, self._depth, self._executor = pieces, depth, executor
        self._room = threading.Semaphore(depth)
        self._stop = threading.Event()

    def __aiter__(self) -> AsyncIterator[Piece]:
        return self._consume()

    def _produce(self, loop: asyncio.AbstractEventLoop,
                 ready: asyncio.Queue[Piece | BaseException | object]) -> None:
        def hand(item: Piece | BaseException | object) -> None:
            loop.call_soon_threadsafe(ready.put_nowait, item)

        try:
            for piece in self._pieces:
                while not self._room.acquire(timeout=1.0):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                hand(piece)
            hand(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            if not self._stop.is_set():
                hand(exc)
        finally:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()

    async def _consume(self) -> AsyncIterator[Piece]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Queue[Piece | BaseException | object] = asyncio.Queue()
        loop.run_in_executor(self._executor, self._produce, loop, ready)
        try:
            while True:
                item = await ready.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, bytes | memoryview)
                yield item
                self._room.release()  # sent: room for one more
        finally:
            self._stop.set()
            self._room.release()  # a producer waiting for room sees the stop
