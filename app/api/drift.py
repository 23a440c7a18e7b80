"""Refusing streams that drifted from their known answers (app/core/kat.py).

``create_app`` runs the check at start-up and ``/readyz`` runs it again; the drifted streams
are kept in ``app.state.drifted``. ``refuse_drifted`` is an application-wide dependency: any
route with ``{engine}`` and ``{distribution}`` path parameters answers 503 for a drifted
(engine, distribution, dtype) instead of serving other bits. Routes that name streams another
way call ``check_stream(request, engine, distribution, dtype)``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from app.core import kat
from app.core.errors import Unavailable
from app.core.registry import ENGINES


class Drifted(Unavailable):
    code = "drifted"


def run_check(app: FastAPI) -> dict[kat.StreamKey, str]:
    drifted = kat.check(kat.generate_on(app.state.streams.runtime))
    app.state.drifted = drifted
    return drifted


def describe(drifted: dict[kat.StreamKey, str]) -> dict[str, str]:
    return {"/".join(key): why for key, why in sorted(drifted.items())}


def check_stream(request: Request, engine: str, distribution: str, dtype: str | None) -> None:
    drifted: dict[kat.StreamKey, str] = getattr(request.app.state, "drifted", {})
    if not drifted:
        return
    if dtype is None:
        spec = ENGINES.get(engine)
        dist = spec.distributions.get(distribution) if spec else None
        if dist is None:
            return  # unknown: the route answers 404/422
        dtype = dist.default_dtype
    why = drifted.get((engine, distribution, dtype))
    if why is not None:
        raise Drifted("dtype", f"{engine} {distribution} {dtype} no longer reproduces its "
                               f"known answers on this server ({why}): refused rather than "
                               "served with other bits; see /readyz")


def refuse_drifted(request: Request) -> None:
    params = request.path_params
    engine, distribution = params.get("engine"), params.get("distribution")
    if isinstance(engine, str) and isinstance(distribution, str):
        check_stream(request, engine, distribution, request.query_params.get("dtype"))
