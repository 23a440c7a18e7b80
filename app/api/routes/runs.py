"""Named runs, their cursors, claims and audit trail: ``/v1/runs/...``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.deps import ServiceDep
from app.api.runs_deps import DatabaseDep, request_id
from app.core.errors import InvalidParameter
from app.core.runs import NAME_RULE, Claim, Cursor, CursorSpec, Run, check_name, run_stream
from app.core.spec import Number
from app.core.streams import Runtime, parse_spawn_key
from app.schemas import ErrorBody
from app.schemas_runs import (
    AuditList,
    ClaimCreate,
    ClaimList,
    ClaimResponse,
    CursorCreate,
    CursorList,
    CursorResponse,
    RunCreate,
    RunList,
    RunResponse,
)

INT64_MAX = 2**63 - 1
"""Page tokens and offsets are stored as 64-bit integers."""
router = APIRouter(prefix="/v1/runs", tags=["runs"])

RunName = Annotated[str, Path(description=f"The run's name: {NAME_RULE}.")]
CursorName = Annotated[str, Path(description=f"The cursor's name: {NAME_RULE}.")]
_ERR = {"model": ErrorBody}
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {**_ERR, "description": "No such run, cursor or claim; `parameter` names which."},
    422: {**_ERR, "description": "A parameter is invalid; `parameter` names it."},
    503: {**_ERR, "description": "The database cannot be reached now: retry after the "
                                 "`Retry-After` header's seconds. Nothing was stored."},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {**_ERR, "description": "The name exists with another seed or stream."}}


def _run(run: Run) -> RunResponse:
    return RunResponse.model_validate(run.as_dict())


def _json(model: BaseModel, created: bool) -> JSONResponse:
    """A model's document, 201 when the request created it, else 200."""
    return JSONResponse(model.model_dump(mode="json"), status_code=201 if created else 200)


@router.put("/{name}", response_model=RunResponse, status_code=200,
            responses={201: {"model": RunResponse, "description": "Created."},
                       200: {"model": RunResponse,
                             "description": "The run already existed: the stored record."},
                       **CONFLICT, **ERRORS},
            summary="Create a named run (idempotent)",
            description="The first call stores the run: a fresh 128-bit seed from the OS's "
                        "entropy (or `seed`), the creation time, `note` and the library "
                        "versions of this process; it is answered 201. Later calls return "
                        "the same record with 200; another explicit seed is a 409.")
def put_run(name: RunName, db: DatabaseDep,
            body: Annotated[RunCreate | None, Body()] = None) -> JSONResponse:
    check_name("name", name)
    body = body or RunCreate()
    run, created = db.create_run(name, body.seed, body.note)
    return _json(_run(run), created)


@router.get("/{name}", response_model=RunResponse, responses=ERRORS, summary="A named run")
def get_run(name: RunName, db: DatabaseDep) -> RunResponse:
    return _run(db.get_run(check_name("name", name)))


@router.get("", response_model=RunList, responses=ERRORS, summary="Runs, newest first")
def list_runs(
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Runs per page.")] = 100,
    page: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="`next_page` of the previous "
                                                        "page; omit for the newest.")] = None,
) -> RunList:
    found, token = db.list_runs(limit, page)
    return RunList(runs=[_run(r) for r in found], next_page=token)


# -- cursors -------------------------------------------------------------------------------

def _cursor(cursor: Cursor) -> CursorResponse:
    return CursorResponse.model_validate(cursor.as_dict())


def cursor_spec(run: Run, body: CursorCreate, runtime: Runtime) -> CursorSpec:
    """Validate the stream as the streams route would (with the run's derived seed)."""
    key = parse_spawn_key(tuple(body.spawn_key) if isinstance(body.spawn_key, list)
                          else body.spawn_key)
    stream = run_stream(run.seed, body.engine, body.distribution, body.dtype, body.params,
                        key, body.device, runtime=runtime)
    return CursorSpec(stream.engine.name, stream.dist.name, stream.dtype.name,
                      dict(stream.params), key)


@router.put("/{run}/cursors/{cursor}", response_model=CursorResponse,
            responses={201: {"model": CursorResponse, "description": "Created at position 0."},
                       200: {"model": CursorResponse,
                             "description": "The cursor already existed with this stream."},
                       **CONFLICT, **ERRORS},
            summary="Create a shared cursor on one of the run's streams (idempotent)")
def put_cursor(run: RunName, cursor: CursorName, body: CursorCreate,
               db: DatabaseDep, service: ServiceDep) -> JSONResponse:
    check_name("cursor", cursor)
    spec = cursor_spec(db.get_run(check_name("run", run)), body, service.runtime)
    made, created = db.create_cursor(run, cursor, spec)
    return _json(_cursor(made), created)


@router.get("/{run}/cursors/{cursor}", response_model=CursorResponse, responses=ERRORS,
            summary="A cursor and its position")
def get_cursor(run: RunName, cursor: CursorName, db: DatabaseDep) -> CursorResponse:
    return _cursor(db.get_cursor(check_name("run", run), check_name("cursor", cursor)))


@router.get("/{run}/cursors", response_model=CursorList, responses=ERRORS,
            summary="The run's cursors")
def list_cursors(run: RunName, db: DatabaseDep) -> CursorList:
    return CursorList(cursors=[_cursor(c) for c in db.list_cursors(check_name("run", run))])


# -- claims --------------------------------------------------------------------------------

def _query_value(value: Number) -> Number | str:
    """A parameter as the stream query writes it (exact floats, booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else value


def slice_url(run: str, spec: CursorSpec, offset: int, count: int) -> str:
    """The stream request that serves exactly this slice of the cursor's stream."""
    query: dict[str, Number | str] = {"run": run}
    if spec.spawn_key:
        query["spawn_key"] = ",".join(str(k) for k in spec.spawn_key)
    query |= {"offset": offset, "count": count, "dtype": spec.dtype,
              **{k: _query_value(v) for k, v in spec.params.items()}}
    return f"/v1/streams/{spec.engine}/{spec.distribution}?{urlencode(query)}"


def _claim(claim: Claim, run: str, spec: CursorSpec) -> ClaimResponse:
    return ClaimResponse.model_validate(
        {**claim.as_dict(), "url": slice_url(run, spec, claim.offset, claim.count)})


@router.post("/{run}/cursors/{cursor}/claims", response_model=ClaimResponse, status_code=201,
             responses={201: {"description": "Reserved [offset, offset + count)."},
                        200: {"model": ClaimResponse,
                              "description": "The claim made earlier with this `key`."},
                        **ERRORS},
             summary="Atomically reserve the next `count` elements of the cursor",
             description="Claims of any number of concurrent clients and replicas are "
                         "disjoint and gap-free: their union is one local call. Nothing is "
                         "stored but the reservation; fetch the values at `url`.")
def post_claim(request: Request, run: RunName, cursor: CursorName, body: ClaimCreate,
               db: DatabaseDep) -> JSONResponse:
    check_name("run", run)
    limit = request.app.state.settings.max_count
    if body.count > limit:
        raise InvalidParameter("count", f"{body.count} is over the limit of {limit} elements "
                                        "per claim")
    claim, created, spec = db.claim(run, check_name("cursor", cursor), body.count, body.worker,
                                    body.key)
    writer = request.app.state.audit
    if writer is not None:
        writer.record(run, f"POST /v1/runs/{run}/cursors/{cursor}/claims",
                      spawn_key=",".join(map(str, spec.spawn_key)) or None,
                      offset=claim.offset, count=claim.count, request_id=request_id(request),
                      api_key_id=getattr(request.state, "api_key_id", None))
    return _json(_claim(claim, run, spec), created)


@router.get("/{run}/cursors/{cursor}/claims", response_model=ClaimList, responses=ERRORS,
            summary="The cursor's claims, in offset order")
def list_claims(
    run: RunName, cursor: CursorName, db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Claims per page.")] = 100,
    start: Annotated[int, Query(ge=0, le=INT64_MAX,
                                description="First offset: `next_page` of the previous "
                                            "page.")] = 0,
) -> ClaimList:
    spec = db.get_cursor(check_name("run", run), check_name("cursor", cursor)).spec
    found, token = db.list_claims(run, cursor, limit, start)
    return ClaimList(claims=[_claim(c, run, spec) for c in found], next_page=token)


@router.get("/{run}/cursors/{cursor}/claims/{claim_id}", response_model=ClaimResponse,
            responses=ERRORS, summary="One claim, by id (a restarted worker re-fetches it)")
def get_claim(run: RunName, cursor: CursorName, db: DatabaseDep,
              claim_id: Annotated[int, Path(ge=1, description="The claim's id.")]
              ) -> ClaimResponse:
    spec = db.get_cursor(check_name("run", run), check_name("cursor", cursor)).spec
    return _claim(db.get_claim(run, cursor, claim_id), run, spec)


# -- audit ---------------------------------------------------------------------------------

@router.get("/{run}/audit", response_model=AuditList, responses=ERRORS,
            summary="Who drew what from the run (SEED_AUTHORITY_AUDIT=on)")
def get_audit(
    request: Request, run: RunName, db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page.")] = 100,
    after: Annotated[int, Query(ge=0, le=INT64_MAX,
                                description="`next_page` of the previous page: rows "
                                            "after this id (oldest first).")] = 0,
) -> AuditList:
    writer = request.app.state.audit
    if writer is not None:
        writer.flush()
    rows, token = db.read_audit(check_name("run", run), limit, after)
    return AuditList.model_validate({"rows": rows, "next_page": token,
                                     "enabled": writer is not None})
