"""Request and response shapes of ``POST /v1/calls`` and ``GET /v1/calls``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.core.calls import FN_NAME_MAX, MAX_CALLS
from app.schemas import Versions


class CallItem(BaseModel):
    """One call: ``<fn>(*args, **kwargs)`` of the engine's whitelist (see GET /v1/calls)."""

    model_config = ConfigDict(extra="forbid")

    fn: str = Field(max_length=FN_NAME_MAX, description="A function the engine replays.",
                    examples=["randn"])
    args: list[Any] = Field(default_factory=list, description="Positional arguments: numbers, "
                            "shapes (lists of integers), dtype names, small lists of numbers.")
    kwargs: dict[str, Any] = Field(default_factory=dict,
                                   description="Keyword arguments, by the library's names.")


class CallsRequest(BaseModel):
    """The program ``<seed the engine>; r0 = <call 0>; r1 = <call 1>; ...``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"engine": "torch-cpu", "seed": 0, "calls": [
            {"fn": "randn", "args": [8]}, {"fn": "rand", "args": [2, 3]},
            {"fn": "randint", "args": [0, 10, [5]]}]},
        {"engine": "numpy-legacy", "seed": 7, "calls": [
            {"fn": "rand", "args": [3]}, {"fn": "rand", "args": [3]}], "results": [1]}]})

    engine: str = Field(description="numpy-legacy (np.random.seed), a numpy Generator engine "
                                    "(numpy-pcg64, ...), python-random or torch-cpu.",
                        examples=["torch-cpu"])
    seed: StrictInt = Field(description="Seed of the program (range per engine: GET /v1/calls).",
                      examples=[0])
    calls: list[CallItem] = Field(min_length=1, max_length=MAX_CALLS,
                                  description="The calls, run in this order.")
    results: list[StrictInt] | None = Field(
        None, max_length=MAX_CALLS,
        description="Indices of the calls whose results are returned, in this order; "
                    "default: all. The others still run (they move the generator).")


class CallResult(BaseModel):
    index: int = Field(description="The call's position in the program.")
    name: str = Field(description="Its variable in `reference`, and its key in npz/safetensors.")
    call: str = Field(description="The call as Python.")
    shape: list[int] = Field(description="[] for a single value.")
    dtype: str
    values: list[float] | list[int] = Field(
        description="Flattened in row-major order; floats printed exactly (parse, cast to "
                    "dtype: same bits).")


class CallsResponse(BaseModel):
    """JSON form. npz/safetensors carry the same results as arrays named `r<index>`."""

    engine: str
    seed: int
    reference: str = Field(description="The program as Python; after it, r<i> holds call i's "
                                       "result.")
    versions: Versions
    results: list[CallResult]


class CallParamInfo(BaseModel):
    name: str
    type: str
    default: Any
    required: bool


class CallFnInfo(BaseModel):
    name: str
    params: list[CallParamInfo]
    varargs: bool = Field(description="The sizes are given as separate integers (torch also "
                                      "takes one list).")
    weight: int = Field(description="Work per element counted against max_call_elements.")
    returns: str | None = Field(description="Shuffled in place: the result is this list.")


class CallEngineInfo(BaseModel):
    name: str
    seed_max: int
    program: str = Field(description="How the program starts, and how each call is written.")
    doc: str
    functions: list[CallFnInfo]


class CallsInfoResponse(BaseModel):
    engines: list[CallEngineInfo]
    refused: dict[str, str] = Field(description="Engines without call replay, with the reason.")
    formats: dict[str, str]
    max_call_elements: int = Field(description="Most elements (times each function's weight) "
                                               "a program may make and read.")
    max_calls: int
