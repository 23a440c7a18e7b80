"""A body made in a producer thread while the event loop sends it.

``Prefetched(pieces)`` is an async iterator over a synchronous one (a slice's encoder, which
generates as it is iterated): a thread of its own pool pulls piece k+1 while piece k is being
sent, at most ``depth`` pieces ahead, so memory stays bounded whatever the body's size. The
pieces go to the socket as they are (memoryviews of the generator's arrays, uncopied).

``PrefetchedResponse`` sends such a body: it starts the producer before it sends the headers
(the first piece is made while they go out) and watches for the client going away with one
plain task instead of a task group (issue 10: ~0.1 ms less before the first byte).

If the consumer stops early (the client went away), the producer is told to stop and the
source iterator is closed in its thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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
        self._ready: asyncio.Queue[Piece | BaseException | object] | None = None

    def start(self) -> None:
        """Start the producer now (else the first iteration does); call on the event loop."""
        if self._ready is None:
            self._ready = asyncio.Queue()
            loop = asyncio.get_running_loop()
            loop.run_in_executor(self._executor, self._produce, loop, self._ready)

    def __aiter__(self) -> AsyncGenerator[Piece, None]:
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

    async def _consume(self) -> AsyncGenerator[Piece, None]:
        self.start()
        ready = self._ready
        assert ready is not None
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
            self.stop()

    def stop(self) -> None:
        """Tell the producer to stop (it closes the source in its thread); once is enough."""
        if not self._stop.is_set():
            self._stop.set()
            self._room.release()  # a producer waiting for room sees the stop


class PrefetchedResponse(Response):
    """A 200 whose body ``Prefetched`` makes; ``headers`` in wire form, without the content
    type (``media_type`` gives it)."""

    def __init__(self, body: Prefetched, media_type: str,
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code, self.media_type, self.background = 200, media_type, None
        self.body_iterator = body
        self.raw_headers = [*headers, (b"content-type", media_type.encode("latin-1"))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body_iterator
        body.start()
        pieces = body.__aiter__()
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async for piece in pieces:
                if gone.done():  # the client went away: stop making what nobody reads
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            body.stop()
            await pieces.aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
