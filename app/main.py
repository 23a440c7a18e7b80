"""The ASGI application: ``uvicorn app.main:app``."""

from __future__ import annotations

from fastapi import FastAPI

import app as package
from app.api import docs, errors, metrics, observability, tracing
from app.api.routes import (
    engines,
    health,
    inits,
    permutations,
    samplers,
    seeds,
    states,
    streams,
)
from app.config import Settings, get_settings
from app.core.cuda import gpu
from app.core.permutations import PermutationService
from app.core.streams import StreamService

DESCRIPTION = """
Seed Authority is the single source of truth for reproducible randomness.

Ask for `seed` + `offset` + `count` of a NumPy, Python or torch random stream and get exactly
that slice, bit-identical to the named library call: a sequence consumed over many HTTP
calls, by many workers, equals one local call. See `/v1/engines` for what exists.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    application = FastAPI(title="Seed Authority", version=package.__version__,
                          description=DESCRIPTION, docs_url=None, redoc_url=None)
    application.state.settings = settings
    application.state.streams = StreamService(settings.limits())
    application.state.permutations = PermutationService(
        settings.permutation_limits(), settings.max_count, settings.chunk_bytes)
    gpu.activate(gpu.detect(settings.cuda))
    errors.install(application)
    application.include_router(streams.router)
    application.include_router(states.router)
    application.include_router(seeds.router)
    application.include_router(inits.router)
    application.include_router(permutations.router)
    application.include_router(samplers.router)
    application.include_router(engines.router)
    application.include_router(health.router)
    _install_operations(application, settings)
    return application


def _install_operations(application: FastAPI, settings: Settings) -> None:
    """Logs, request ids, metrics and the offline /docs (docs/operations.md)."""
    observability.configure_logging(settings.log_format, settings.log_level)
    service: StreamService = application.state.streams
    service.on_jump = metrics.observe_jump
    sync = metrics.StatsSync(service.cache, getattr(application.state, "memory_budget", None))
    application.state.stats_sync = sync
    application.add_middleware(observability.RequestMiddleware, on_done=sync)
    application.include_router(metrics.router)
    docs.install(application)
    tracing.install(application, settings.tracing)


app = create_app()
