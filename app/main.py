"""The ASGI application: ``uvicorn app.main:app``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI

import app as package
from app.api import docs, drift, errors, metrics, observability, security, tracing
from app.api.admission import MemoryBudget
from app.api.gc_pacing import GcPacer, tune_gc
from app.api.routes import (
    calls,
    engines,
    health,
    inits,
    permutations,
    runs,
    samplers,
    seeds,
    states,
    streams,
)
from app.api.strict import APP_CHECKS
from app.config import Settings, get_settings
from app.core.cuda import gpu
from app.core.permutations import PermutationService
from app.core.streams import Runtime, StreamService
from app.db.audit import AuditWriter
from app.db.store import Database

DESCRIPTION = """
Seed Authority is the single source of truth for reproducible randomness.

Ask for `seed` + `offset` + `count` of a NumPy, Python or torch random stream and get exactly
that slice, bit-identical to the named library call: a sequence consumed over many HTTP
calls, by many workers, equals one local call. See `/v1/engines` for what exists.
"""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The application; ``runtime``: the hardware its streams are made on (by default the
    GPU the ``cuda`` setting names, if any; tests pass a model GPU)."""
    settings = settings or get_settings()
    if runtime is None:
        runtime = Runtime(gpu.detect(settings.cuda))
    # FastAPI's native OpenTelemetry stays off: SEED_AUTHORITY_TRACING is the one switch
    # (app/api/tracing.py), so spans are never doubled and requests skip its checks.
    application = FastAPI(title="Seed Authority", version=package.__version__,
                          description=DESCRIPTION, docs_url=None, redoc_url=None,
                          dependencies=[Depends(check) for check in APP_CHECKS],
                          telemetry={"tracing": False, "metrics": False, "logs": False})
    application.state.settings = settings
    application.state.memory_budget = MemoryBudget(
        settings.memory_budget, settings.queue_timeout_s, settings.queue_max)
    application.state.streams = StreamService(settings.limits(), runtime)
    application.state.db = Database(settings.database_url)
    application.state.audit = (AuditWriter(application.state.db, settings.audit_flush_ms)
                               if settings.audit else None)
    application.state.permutations = PermutationService(
        settings.permutation_limits(), settings.max_count, settings.chunk_bytes)
    drift.run_check(application)
    errors.install(application)
    security.install(application, settings)
    application.include_router(streams.router)
    application.include_router(states.router)
    application.include_router(seeds.router)
    application.include_router(inits.router)
    application.include_router(calls.router)
    application.include_router(runs.router)
    application.include_router(permutations.router)
    application.include_router(samplers.router)
    application.include_router(engines.router)
    application.include_router(health.router)
    _install_operations(application, settings)
    security.document_guards(application)
    return application


def _install_operations(application: FastAPI, settings: Settings) -> None:
    """Logs, request ids, metrics and the offline /docs (docs/operations.md)."""
    observability.configure_logging(settings.log_format, settings.log_level)
    service: StreamService = application.state.streams
    service.on_jump = metrics.observe_jump
    sync = metrics.StatsSync(service.cache, getattr(application.state, "memory_budget", None))
    application.state.stats_sync = sync
    # One process: /metrics copies the statistics itself when scraped. Several: a scrape
    # reads every worker's files, so each worker copies its own after requests (at most
    # twice a second, the last change always).
    after: list[Callable[[], None]] = (
        [metrics.Throttled(sync)] if metrics.MULTIPROCESS_DIR is not None else [])
    if settings.gc_pace_requests:
        after.append(GcPacer(settings.gc_pace_requests).tick)
    application.add_middleware(observability.RequestMiddleware, on_done=after)
    application.include_router(metrics.router)
    docs.install(application)
    tracing.install(application, settings.tracing)


app = create_app()
tune_gc()
