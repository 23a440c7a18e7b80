"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

Counters and histograms are updated by the request middleware (app/api/observability.py) from
what every response carries: the route template, the status, ``X-Count`` (stream elements) and
``X-Elements`` (init elements). The checkpoint cache and the admission control keep their own
statistics; they are copied into gauges and counters at every scrape, and with several workers
also after requests (at most twice a second per worker, ``Throttled``).

With several worker processes (``WEB_CONCURRENCY`` > 1, uvicorn's ``--workers``) the client runs
in multiprocess mode: every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape, answered by any worker, adds them up. When that variable is not set, the workers
of one uvicorn share ``<tmp>/seed-authority-metrics-<supervisor pid>``.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


def _multiprocess_dir() -> str | None:
    """Must run before prometheus_client is imported: it picks its value class then."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        return given
    try:
        workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        workers = 1
    if workers <= 1:
        return None
    path = Path(tempfile.gettempdir()) / f"seed-authority-metrics-{os.getppid()}"
    path.mkdir(exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


MULTIPROCESS_DIR = _multiprocess_dir()

from fastapi import APIRouter, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from app.core.checkpoints import CacheStats  # noqa: E402
from app.core.versions import versions  # noqa: E402

disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0)
_JUMP_BUCKETS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)

REQUESTS = Counter("seed_authority_requests", "HTTP requests answered.",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram("seed_authority_request_seconds",
                            "Time from the request to the last byte of its response.",
                            ["route", "method"], buckets=_LATENCY_BUCKETS)
VALUES = Counter("seed_authority_values", "Stream elements served (200 responses).",
                 ["engine", "distribution"])
INIT_ELEMENTS = Counter("seed_authority_init_elements",
                        "Tensor elements served by tensor and module inits.")
JUMP_SECONDS = Histogram("seed_authority_jump_seconds",
                         "Time to position a generator by a jump-ahead.", ["engine"],
                         buckets=_JUMP_BUCKETS)
CACHE_ENTRIES = Gauge("seed_authority_checkpoint_cache_entries",
                      "Checkpoints held (saved states and parked generators).",
                      multiprocess_mode="livesum")
CACHE_BYTES = Gauge("seed_authority_checkpoint_cache_bytes",
                    "Estimated bytes held by the checkpoint cache.", multiprocess_mode="livesum")
CACHE_MAX_BYTES = Gauge("seed_authority_checkpoint_cache_max_bytes",
                        "Memory budget of the checkpoint cache (SEED_AUTHORITY_CACHE_BYTES).",
                        multiprocess_mode="livesum")
CACHE_HITS = Counter("seed_authority_checkpoint_cache_hits",
                     "Slices that started from a checkpoint.")
CACHE_MISSES = Counter("seed_authority_checkpoint_cache_misses",
                       "Slices that found no checkpoint at or before their offset.")
CACHE_EVICTIONS = Counter("seed_authority_checkpoint_cache_evictions",
                          "Checkpoints evicted to stay within the budget.")
ADMISSION_BYTES = Gauge("seed_authority_admission_in_flight_bytes",
                        "Bytes reserved by requests in flight (admission control).",
                        multiprocess_mode="livesum")
ADMISSION_QUEUE = Gauge("seed_authority_admission_queue_length",
                        "Requests waiting for memory (admission control).",
                        multiprocess_mode="livesum")
BUILD_INFO = Gauge("seed_authority_build_info",
                   "Always 1; the labels are the versions every response is made with.",
                   list(versions()), multiprocess_mode="max")
BUILD_INFO.labels(**versions()).set(1)


_CHILDREN: dict[tuple[str, ...], Any] = {}
"""Labelled series already looked up (``labels()`` validates and locks on every call); the
label values are route templates, methods, statuses and registry names: a bounded set."""


def _child(metric: Counter | Histogram, *labels: str) -> Any:
    key = (metric._name, *labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    _child(REQUESTS, route, method, str(status)).inc()
    _child(REQUEST_SECONDS, route, method).observe(seconds)


def observe_values(engine: str, distribution: str, count: int) -> None:
    _child(VALUES, engine, distribution).inc(count)


def observe_init_elements(count: int) -> None:
    INIT_ELEMENTS.inc(count)


def observe_jump(engine: str, seconds: float) -> None:
    JUMP_SECONDS.labels(engine).observe(seconds)


class _Budget(Protocol):
    """What the admission control's statistics offer (app/api/admission.py, when present)."""

    reserved: int
    waiting: int


class _HasStats(Protocol):
    def stats(self) -> Any: ...


@dataclass
class StatsSync:
    """Copies one app's cache and admission statistics into the metrics; cumulative counts
    of the cache are added as differences from the last copy."""

    cache: _HasStats
    budget: _HasStats | None = None
    _last: CacheStats | None = None

    def __call__(self) -> None:
        stats: CacheStats = self.cache.stats()
        last = self._last
        CACHE_ENTRIES.set(stats.checkpoints)
        CACHE_BYTES.set(stats.bytes)
        CACHE_MAX_BYTES.set(stats.max_bytes)
        for counter, now, before in (
                (CACHE_HITS, stats.hits, last.hits if last else 0),
                (CACHE_MISSES, stats.misses, last.misses if last else 0),
                (CACHE_EVICTIONS, stats.evictions, last.evictions if last else 0)):
            if now > before:
                counter.inc(now - before)
        self._last = stats
        if self.budget is not None:
            budget: _Budget = self.budget.stats()
            ADMISSION_BYTES.set(budget.reserved)
            ADMISSION_QUEUE.set(budget.waiting)


class Throttled:
    """``fn`` at most once per ``interval`` seconds, and once more ``interval`` after a
    skipped call, so the last change is copied too (within ``interval``). Called on the
    event loop (the request middleware); without a running loop, ``fn`` runs at once.

    With several workers, each copies its cache statistics after requests (a scrape is
    answered by one worker, from every worker's files): ~7 us a request when done after
    every one, 2% of a small slice (issue 10)."""

    def __init__(self, fn: Callable[[], None], interval: float = 0.5) -> None:
        self.fn, self.interval = fn, interval
        self._last = -math.inf
        self._pending: asyncio.TimerHandle | None = None

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._fire()
            return
        if self._pending is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._fire()
                return
            self._pending = loop.call_later(self.interval - (now - self._last), self._fire)

    def _fire(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._last = time.monotonic()
        self.fn()


def exposition() -> bytes:
    """The text exposition of every metric, summed over workers in multiprocess mode."""
    if MULTIPROCESS_DIR is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


router = APIRouter(tags=["operations"])

METRICS_DESCRIPTION = (
    "Prometheus text exposition format: request counts and latencies by route template, "
    "elements served by engine and distribution, init elements, checkpoint-cache gauges and "
    "counters, jump-ahead times, admission control, build versions. See docs/operations.md."
)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=METRICS_DESCRIPTION,
    response_class=Response,
    responses={200: {"description": "The metrics in the Prometheus text format.",
                     "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    sync: StatsSync | None = getattr(request.app.state, "stats_sync", None)
    if sync is not None:
        sync()
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
