"""Request and response shapes of runs, cursors, claims and the audit trail."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.api.strict import JsonInt
from app.core.runs import MAX_NOTE, NAME_RULE


class RunCreate(BaseModel):
    """Body of ``PUT /v1/runs/{name}``; every field optional."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "lr sweep, 8 ranks"}]})

    seed: JsonInt | None = Field(None, ge=0, lt=2**128,
                             description="The run's 128-bit seed; default: fresh from the OS's "
                                         "entropy. Another seed for an existing run is a 409.")
    note: str | None = Field(None, max_length=MAX_NOTE, description="Free text kept with the run.")


class RunVersions(BaseModel):
    numpy: str
    torch: str
    python: str
    torch_cpu_capability: str


class RunResponse(BaseModel):
    name: str = Field(description=f"The run's name: {NAME_RULE}.")
    seed: int = Field(description="128-bit seed every stream of the run derives from.")
    seed_source: str = Field(description="`entropy` (drawn by the authority) or `given`.")
    created_at: str = Field(description="ISO 8601, UTC.")
    note: str | None
    versions: RunVersions = Field(description="Library versions of the process that created it; "
                                              "run= requests under others are a 409 unless "
                                              "allow_version_drift=true.")


class RunList(BaseModel):
    runs: list[RunResponse]
    next_page: int | None = Field(description="`page=` of the next page (older runs), or null.")


class CursorCreate(BaseModel):
    """Body of ``PUT /v1/runs/{run}/cursors/{cursor}``: the stream the cursor walks along."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"engine": "numpy-pcg64", "distribution": "uniform", "dtype": "float64",
         "params": {"low": 0, "high": 1}, "spawn_key": "0"}]})

    engine: str = Field(description="Engine (see /v1/engines).")
    distribution: str = Field(description="Distribution of the engine.")
    dtype: str | None = Field(None, description="Element type; default: the distribution's.")
    params: dict[str, bool | float | int | str] = Field(
        default_factory=dict, description="Distribution parameters (low, high, loc, scale, "
                                          "sms, threads_per_sm), as for a stream.")
    spawn_key: str | list[JsonInt] | None = Field(
        None, description="The stream's spawn key under the run's seed: `3`, `0,5` or [0, 5].")
    device: str | None = Field(None, description="torch-cuda only: a GPU launch profile.")


class CursorResponse(BaseModel):
    run: str
    name: str
    engine: str
    distribution: str
    dtype: str
    params: dict[str, bool | float | int]
    spawn_key: list[int]
    position: int = Field(description="Offset the next claim starts at.")
    created_at: str


class CursorList(BaseModel):
    cursors: list[CursorResponse]


class ClaimCreate(BaseModel):
    """Body of ``POST .../claims``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"count": 1000, "worker": "rank-3"}]})

    count: JsonInt = Field(
        gt=0, description="Elements to reserve; at most the configured max_count.")
    worker: str = Field("", max_length=200, description="Free text: who claims (kept, listed).")
    key: str | None = Field(
        None, min_length=1, max_length=100,
        description="Idempotency key: a retry with the same key on this cursor returns the "
                    "claim it made (200) instead of reserving another range.")


class ClaimResponse(BaseModel):
    id: int = Field(description="Fetch it again with GET .../claims/{id}.")
    run: str
    cursor: str
    offset: int
    count: int
    next_offset: int
    worker: str
    created_at: str
    url: str = Field(description="The stream slice [offset, offset + count) of the claim.")
    values: list[float] | list[int] | None = Field(
        None, description="With format=json: the values of the slice.")


class ClaimList(BaseModel):
    claims: list[ClaimResponse]
    next_page: int | None = Field(description="`start=` of the next page, or null.")


class AuditRow(BaseModel):
    id: int
    at: str
    run: str
    endpoint: str
    spawn_key: str | None
    offset: int | None
    count: int | None
    request_id: str | None
    api_key_id: str | None


class AuditList(BaseModel):
    rows: list[AuditRow]
    next_page: int | None = Field(description="`after=` of the next page, or null.")
    enabled: bool = Field(description="Whether this server writes the audit trail now.")
