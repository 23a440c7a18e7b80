"""What the run-aware routes share: the database, the audit trail, and ``run=`` resolved to
the stream (or seed) a request stands for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from app.api.observability import current_request_id
from app.core.errors import InvalidParameter
from app.core.registry import seeding_engine
from app.core.runs import Run, check_name, engine_seed, run_stream
from app.core.streams import Stream, StreamService, stream_namers
from app.db.audit import AuditWriter
from app.db.store import Database
from app.schemas import StreamParams


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DatabaseDep = Annotated[Database, Depends(get_db)]


def request_id(request: Request) -> str | None:
    """The request's id (the one it is logged under), else its X-Request-ID header."""
    rid = current_request_id() or getattr(request.state, "request_id", None)
    return str(rid) if rid is not None else request.headers.get("x-request-id")


def load_run(request: Request, name: str, allow_version_drift: bool) -> Run:
    """The named run; 404 if unknown, 409 if made under other library versions (unless
    allowed), 503 if the database is away."""
    run = get_db(request).get_run(check_name("run", name))
    run.check_versions(allow_version_drift)
    return run


def seed_or_run(request: Request, seed: int | None, run: str | None,
                allow_version_drift: bool) -> Run | None:
    """Exactly one of seed= and run=: the run, or None when the request has its own seed."""
    if run is None:
        if seed is None:
            raise InvalidParameter("seed", "required (or run=<name> for a named run's seed)")
        return None
    if seed is not None:
        raise InvalidParameter("run", "give seed= or run=, not both")
    return load_run(request, run, allow_version_drift)


def stream_for(request: Request, query: StreamParams, engine: str,
               distribution: str) -> tuple[Stream, Run | None]:
    """The stream a stream-shaped query names, by seed=, by run=, or by a parameter that
    names it by itself (jax-threefry's key=)."""
    dtype = query.dtype.value if query.dtype else None
    service: StreamService = request.app.state.streams
    params = query.params()
    named = query.seed is None and query.run is None and stream_namers(engine, distribution,
                                                                         params)
    run = None if named else seed_or_run(request, query.seed, query.run,
                                         query.allow_version_drift)
    if run is None:
        return service.resolve(engine, distribution, query.seed, dtype, params,
                               query.spawn_key, query.device), None
    return run_stream(run.seed, engine, distribution, dtype, params, query.spawn_key,
                      query.device, runtime=service.runtime), run


def audit(request: Request, run: Run | None, *, spawn_key: Any = None,
          offset: int | None = None, count: int | None = None) -> None:
    """One audit row for a request that names a run (when SEED_AUTHORITY_AUDIT is on)."""
    writer: AuditWriter | None = request.app.state.audit
    if writer is None or run is None:
        return
    if isinstance(spawn_key, tuple | list):
        spawn_key = ",".join(str(k) for k in spawn_key)
    writer.record(run.name, f"{request.method} {request.url.path}",
                  spawn_key=spawn_key or None, offset=offset, count=count,
                  request_id=request_id(request),
                  api_key_id=getattr(request.state, "api_key_id", None))


def run_field(run: Run | None) -> dict[str, str]:
    """``{"run": name}`` for a response made from a run's seed, else nothing."""
    return {} if run is None else {"run": run.name}


def sampler_seed(request: Request, seed: int | None, run: str | None,
                 allow_version_drift: bool, default: int | None) -> tuple[int, Run | None]:
    """A torch sampler's seed: given, the default, or derived from the run as the streams of
    the engine ``torch.manual_seed`` seeds are (``SeedSequence(run_seed).generate_state(1,
    uint64)[0]``)."""
    if run is None and seed is None and default is not None:
        return default, None
    the_run = seed_or_run(request, seed, run, allow_version_drift)
    if the_run is None:
        assert seed is not None
        return seed, None
    derived, _ = engine_seed(seeding_engine("torch"), the_run.seed, ())
    return derived, the_run
