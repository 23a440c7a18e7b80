"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api import drift
from app.api.deps import ServiceDep
from app.core import kat
from app.core.registry import ENGINES
from app.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health,
            summary="Readiness: every engine generates, and every stream reproduces its "
                    "known answers",
            responses={503: {"model": Health, "description": "An engine failed, or streams "
                                                             "drifted (`detail.drifted` names "
                                                             "them; they answer 503)."}})
def readyz(service: ServiceDep, request: Request) -> Health | JSONResponse:
    failed: dict[str, str | dict[str, str]] = {}
    for engine in ENGINES.values():
        dist = next(iter(engine.distributions.values()))
        try:
            stream = service.resolve(engine.name, dist.name, 0)
            for _ in service.open_slice(stream, 0, 1):
                pass
        except Exception as exc:  # readiness reports any failure instead of raising it
            failed[engine.name] = repr(exc)
    drifted = drift.run_check(request.app)
    if drifted:
        failed["drifted"] = drift.describe(drifted)
    if failed:
        body = Health.model_validate({"status": "failed", "detail": failed})
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(status="ok", detail={"engines": len(ENGINES),
                                       "known_answers": len(kat.vectors())})
