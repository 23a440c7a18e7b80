"""Admission control for memory: a process-wide budget of bytes held by in-flight work.

Each request that allocates in proportion to its parameters reserves its estimated peak
(result tensors, temporaries, serialised body) before it allocates, and holds it until its
response has been sent. A request that does not fit waits, first come first served, in a
bounded queue for up to ``queue_timeout_s``, then gets a 503 with ``Retry-After``; one larger
than the whole budget is a 413 naming the total. So concurrent requests cannot add up past
``SEED_AUTHORITY_MEMORY_BUDGET``, whatever the thread pool's size.

Use from a route (sync routes run in worker threads, so waiting there blocks no event loop)::

    budget: BudgetDep
    with budget.reserve(nbytes, "shape") as ticket:
        ...allocate, build the response...
        return ticket.hold(response)   # released once the body is sent

``async def`` routes call ``await budget.areserve(...)`` instead (the wait runs in a thread).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from app.core.errors import TooLarge, Unavailable

RETRY_AFTER_S = 2


@dataclass(frozen=True)
class BudgetStats:
    total: int
    reserved: int
    in_flight: int
    waiting: int
    peak_reserved: int
    refused_busy: int
    refused_too_large: int


class MemoryBudget:
    def __init__(self, total: int, queue_timeout_s: float = 30.0, max_waiting: int = 32) -> None:
        self.total, self.queue_timeout_s, self.max_waiting = total, queue_timeout_s, max_waiting
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._reserved = self._in_flight = self._peak = 0
        self._busy = self._too_large = 0

    def stats(self) -> BudgetStats:
        with self._cond:
            return BudgetStats(self.total, self._reserved, self._in_flight, len(self._queue),
                               self._peak, self._busy, self._too_large)

    def reserve(self, nbytes: int, parameter: str) -> Reservation:
        """Block until ``nbytes`` fit (FIFO), or raise 413 (never fits) / 503 (not in time,
        or the queue is full). ``parameter`` is the request field the size comes from."""
        nbytes = max(0, int(nbytes))
        with self._cond:
            if nbytes > self.total:
                self._too_large += 1
                raise TooLarge(parameter, f"needs about {nbytes} bytes of memory, more than the "
                                          f"whole memory budget of {self.total} bytes "
                                          "(SEED_AUTHORITY_MEMORY_BUDGET)")
            if not self._queue and self._reserved + nbytes <= self.total:
                return self._grant(nbytes)
            if len(self._queue) >= self.max_waiting:
                self._busy += 1
                raise self._unavailable(f"{len(self._queue)} requests already wait for memory")
            ticket = object()
            self._queue.append(ticket)
            deadline = time.monotonic() + self.queue_timeout_s
            try:
                while not (self._queue[0] is ticket and self._reserved + nbytes <= self.total):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._busy += 1
                        raise self._unavailable(
                            f"no room for about {nbytes} bytes within "
                            f"{self.queue_timeout_s:g} s (SEED_AUTHORITY_QUEUE_TIMEOUT_S)")
                    self._cond.wait(remaining)
                return self._grant(nbytes)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    async def areserve(self, nbytes: int, parameter: str) -> Reservation:
        return await anyio.to_thread.run_sync(self.reserve, nbytes, parameter)

    def _grant(self, nbytes: int) -> Reservation:
        self._reserved += nbytes
        self._in_flight += 1
        self._peak = max(self._peak, self._reserved)
        return Reservation(self, nbytes)

    def _release(self, nbytes: int) -> None:
        with self._cond:
            self._reserved -= nbytes
            self._in_flight -= 1
            self._cond.notify_all()

    def _unavailable(self, why: str) -> Unavailable:
        return Unavailable("memory", f"the server's memory budget ({self.total} bytes) is in "
                                     f"use: {why}; retry after {RETRY_AFTER_S} s",
                           {"Retry-After": str(RETRY_AFTER_S)})


class Reservation:
    """Bytes held in the budget until ``release`` (idempotent); as a context manager it
    releases on exit unless ``hold`` handed it to a response."""

    def __init__(self, budget: MemoryBudget, nbytes: int) -> None:
        self.budget, self.nbytes = budget, nbytes
        self._lock = threading.Lock()
        self._done = False
        self._held = False

    def release(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self.budget._release(self.nbytes)

    def hold(self, response: Response) -> Response:
        """The response, releasing the reservation once it has been sent (or has failed)."""
        self._held = True
        return HeldResponse(response, self)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None or not self._held:
            self.release()


class HeldResponse(Response):
    """Sends the wrapped response, then drops it (freeing its body) and releases."""

    def __init__(self, inner: Response, reservation: Reservation) -> None:
        self.inner: Response | None = inner
        self.reservation = reservation
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = inner.background
        self.media_type = inner.media_type
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            inner = self.inner
            assert inner is not None, "a held response is sent once"
            inner.background = self.background
            await inner(scope, receive, send)
        finally:
            self.inner = inner = None
            self.reservation.release()


def get_budget(request: Request) -> MemoryBudget:
    budget: MemoryBudget = request.app.state.memory_budget
    return budget


BudgetDep = Annotated[MemoryBudget, Depends(get_budget)]
