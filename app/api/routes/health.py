"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServiceDep
from app.core.registry import ENGINES
from app.core.streams import resolve
from app.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, summary="Readiness: every engine generates",
            responses={503: {"model": Health, "description": "An engine failed."}})
def readyz(service: ServiceDep) -> Health | JSONResponse:
    failed: dict[str, str] = {}
    for engine in ENGINES.values():
        dist = next(iter(engine.distributions.values()))
        try:
            stream = resolve(engine.name, dist.name, 0)
            for _ in service.open_slice(stream, 0, 1):
                pass
        except Exception as exc:  # readiness reports any failure instead of raising it
            failed[engine.name] = repr(exc)
    if failed:
        return JSONResponse({"status": "failed", "detail": failed}, status_code=503)
    return Health(status="ok", detail={"engines": len(ENGINES)})
