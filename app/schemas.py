"""Request and response shapes of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    StrictBool,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from app.api.strict import JsonInt, JsonSize
from app.core.checkpoints import CacheStats
from app.core.dtypes import DTYPES
from app.core.inits.tensors import INITS
from app.core.registry import ENGINES, ParamUse, distribution_names, parameters
from app.core.spec import Engine, Param
from app.core.streams import Limits


@dataclass(frozen=True)
class RegistryNames:
    """A string that must be one of the names the registry holds when it is validated (so an
    engine registered after start-up is served); the JSON schema lists the names held when
    the document is made."""

    kind: str
    names: Callable[[], Iterable[str]]

    def check(self, value: str) -> str:
        known = list(self.names())
        if value not in known:
            raise ValueError(f"unknown {self.kind} {value!r}; known: {', '.join(known)}")
        return value

    def __get_pydantic_core_schema__(self, source: type[str],
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(dict.fromkeys(self.names()))}


EngineName = Annotated[str, RegistryNames("engine", lambda: ENGINES)]
DistributionName = Annotated[str, RegistryNames("distribution", distribution_names)]
DTypeName = Enum("DTypeName", {d: d for d in DTYPES}, type=str)  # type: ignore[misc]
FormatName = Literal["json", "npy", "raw"]

RESERVED = frozenset({"seed", "spawn_key", "offset", "count", "device", "dtype", "format", "run",
                      "allow_version_drift"})
"""Query names of a stream request itself: no distribution parameter may take one."""


def _spawn_key_doc() -> str:
    by_rule: dict[str, list[str]] = {}
    for e in ENGINES.values():
        rule = ("`SeedSequence(seed, spawn_key=...)` (spawn_key=3 is "
                "`SeedSequence(seed).spawn(4)[3]`)" if e.seed_bits is None else
                f"the seed `SeedSequence(seed, spawn_key).generate_state(1, "
                f"uint{e.seed_bits})[0]`")
        by_rule.setdefault(rule, []).append(e.name)
    rules = "; ".join(f"{', '.join(names)}: {rule}" for rule, names in by_rule.items())
    return ("A worker's stream: comma-separated non-negative integers, e.g. `3` or `0,5`. "
            f"{rules}.")


def _device_doc() -> str:
    names = [e.name for e in ENGINES.values() if e.devices is not None]
    presets = sorted({p for e in ENGINES.values() if e.devices for p in e.devices.profiles})
    return (f"Only for engines whose streams depend on a device ({', '.join(names) or 'none'}): "
            f"a named parameter preset ({', '.join(presets)}), instead of giving its "
            "parameters one by one.")


KIND_DOCS = {"int": "An exact integer", "float": "A decimal number",
             "bool": "true or false", "pair": "Two unsigned 32-bit integers hi,lo"}


def _param_doc(uses: list[ParamUse]) -> str:
    """Who takes the parameter, what it means, its kind and default, from the registry."""
    groups: dict[tuple[Param, tuple[str, ...]], list[str]] = {}
    for use in uses:
        engines = () if use.every_engine else use.engines
        groups.setdefault((use.param, engines), []).append(use.distribution)
    parts = []
    for (p, engines), dists in groups.items():
        who = ", ".join(dists) + (f" ({', '.join(engines)})" if engines else "")
        need = ("optional" if p.optional else "required") if p.default is None \
            else f"default {p.default!r}"
        kind = KIND_DOCS[p.kind]
        parts.append(f"{who}: {p.doc} {kind}; {need}.")
    return " ".join(parts)


def param_fields(engines: Mapping[str, Engine] = ENGINES) -> dict[str, Any]:
    """pydantic field definitions, one per distribution parameter name of these engines."""
    fields: dict[str, Any] = {}
    for name, uses in parameters(engines).items():
        if name in RESERVED:
            raise ValueError(f"distribution parameter {name!r} clashes with a request field")
        fields[name] = (str | None, Field(None, description=_param_doc(uses)))
    return fields


PARAM_FIELDS = param_fields()
"""One optional query field per distribution parameter name in the registry."""


class _StreamParams(BaseModel):
    """What names a stream and a position in it. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, description="Seed of the generator; its range depends on "
                                               "the engine (see /v1/engines). Required unless "
                                               "run= is given.", examples=[7])
    run: str | None = Field(
        None, description="A named run (PUT /v1/runs/{name}) instead of seed=: the engine's "
                          "seed derives from the run's 128-bit seed as /v1/seeds?run= lists.")
    allow_version_drift: bool = Field(
        False, description="With run=: serve a run created under other library versions (its "
                           "bits may differ) instead of a 409.")
    spawn_key: str | None = Field(None, description=_spawn_key_doc())
    offset: int = Field(0, description="Index of the first element.", ge=0)
    device: str | None = Field(None, min_length=1, max_length=64,
                                  description=_device_doc())
    dtype: DTypeName | None = Field(
        None, description="Element type; default depends on the engine (see /v1/engines).")

    def params(self) -> dict[str, str]:
        """The distribution parameters given (by the registry's names), as text."""
        return {k: v for k, v in self if k in PARAM_FIELDS and isinstance(v, str)}


class _StreamQuery(_StreamParams):
    """Query parameters of a stream slice. Unknown parameters are refused."""

    count: int = Field(description="Number of elements; at most the configured max_count.",
                       ge=0, examples=[3])
    format: FormatName | None = Field(
        None, description="json (default), npy or raw; overrides the Accept header.")


def _binary_state_doc() -> str:
    names = [e.name for e in ENGINES.values() if e.state is not None and e.state.binary]
    return (f"json (default); raw: the state bytes, for engines whose state is bytes "
            f"({', '.join(names) or 'none'}).")


class _StateQuery(_StreamParams):
    """Query parameters of a generator-state handoff. Unknown parameters are refused."""

    format: Literal["json", "raw"] | None = Field(None, description=_binary_state_doc())


if TYPE_CHECKING:
    StreamParams = _StreamParams
    StreamQuery = _StreamQuery
    StateQuery = _StateQuery
else:
    StreamParams = create_model("StreamParams", __base__=_StreamParams, **PARAM_FIELDS)
    StreamQuery = create_model("StreamQuery", __base__=_StreamQuery, **PARAM_FIELDS)
    StateQuery = create_model("StateQuery", __base__=_StateQuery, **PARAM_FIELDS)

DISTRIBUTIONS_DOC = f"Distribution: {', '.join(distribution_names())} (see /v1/engines)."


class StateResponse(BaseModel):
    engine: str
    distribution: str
    seed: int
    run: str | None = Field(None, description="The named run the seed derives from (run=).")
    spawn_key: list[int]
    offset: int
    block_start: int = Field(description="Where the state is: offset, or for a distribution "
                                         "drawn in blocks (`block` at /v1/engines) the start "
                                         "of the offset's block.")
    skip: int = Field(description="Elements to drop after block_start: offset - block_start.")
    dtype: str
    params: dict[str, bool | float | int]
    state: JsonValue = Field(description="The library's own state: the np.random.set_state tuple, "
                                   "the bit generator's state dict, the random.setstate tuple, "
                                   "or torch's Generator state bytes in base64.")
    state_kind: str | None = Field(
        description="How to rebuild the generator from `state`: numpy.bit_generator, "
                    "numpy.random_state, python.random or torch.generator (see "
                    "app.core.spec.StateKind).")
    restore: str = Field(description="Python that rebuilds the generator from `state`.")
    continue_: str = Field(alias="continue", description="Python that draws on from there.")
    versions: Versions


class Versions(BaseModel):
    seed_authority: str
    python: str
    numpy: str
    torch: str
    torch_cpu_capability: str = Field(
        description="CPU kernel torch dispatches to; float32/float16 uniform and normal bits of "
                    "torch's CPU generator depend on it.")
    cuda_device: str = Field(description="The GPU this server sees, or none.")
    jax: str | None = Field(None, description="JAX's version, when installed (jax-threefry's "
                                              "normal needs it).")


class StreamSlice(BaseModel):
    """JSON form of a slice. Floats are printed exactly: parse and cast to dtype for the bits."""

    engine: str
    distribution: str
    seed: int | None = Field(description="null when a parameter names the stream instead "
                                         "(jax-threefry's key=hi,lo).")
    run: str | None = Field(None, description="The named run the seed derives from (run=).")
    offset: int
    count: int
    next_offset: int = Field(description="offset + count: where the next consecutive slice starts.")
    spawn_key: list[int]
    dtype: str
    params: dict[str, bool | float | int] = Field(
        description="The distribution's parameters, defaults filled in (booleans as true/false, "
                    "a hi,lo pair as the one integer hi * 2**32 + lo).")
    reference: str = Field(description="Python that reproduces this slice with the library itself.")
    versions: Versions
    local_call: dict[str, int | str] | None = Field(
        None, description="Engines that declare call info only: facts about the equivalent "
                          "local call of offset + count elements (e.g. how far it moves the "
                          "generator, where the values were made); see /v1/engines.")
    values: list[float | str] | list[int] = Field(
        description="The elements. Non-finite floats (which some samplers make, e.g. pareto "
                    "or f with tiny parameters) are the strings \"inf\", \"-inf\", \"nan\".")


class ErrorBody(BaseModel):
    error: str = Field(description="invalid_parameter, limit_exceeded, not_found, not_acceptable")
    parameter: str | None = Field(description="The parameter at fault.")
    message: str
    request_id: str | None = Field(None, description="The request's X-Request-ID, as logged.")


class ParamInfo(BaseModel):
    name: str
    type: Literal["float", "int", "bool", "pair"] = Field(
        description="float: a decimal number; int: an exact integer; bool: true or false; "
                    "pair: two unsigned 32-bit integers hi,lo.")
    default: bool | float | int | None
    required: bool
    doc: str = Field(description="Meaning and domain, e.g. `Shape k. (>= 0)`.")
    example: bool | float | int | None = Field(None, description="A valid value.")


class DistributionInfo(BaseModel):
    name: str
    dtypes: list[str]
    default_dtype: str
    refused_dtypes: dict[str, str] = Field(
        description="dtypes the library has but this stream refuses, with the reason.")
    params: list[ParamInfo]
    block: int = Field(description="The stream is generated in blocks of this many elements.")
    access: str = Field(
        description="How an offset is reached, the same for every dtype: `direct` = the "
                    "generator jumps there in O(log offset) (its elements take a fixed number "
                    "of draws); `checkpointed` = regenerated from the nearest saved generator "
                    "state at or before it (or the seed), within max_skip_ms.")
    access_by_dtype: dict[str, str] = Field(description="`access`, for each dtype.")
    cost_ns_per_element: float = Field(
        description="Estimated regeneration cost; with max_skip_ms it bounds the reachable "
                    "distance from a checkpoint.")
    max_cold_offset: int = Field(
        description="Farthest offset reachable with no checkpoint on the way (2**64-1 for "
                    "direct access).")
    reference_example: str
    notes: str


class EngineInfo(BaseModel):
    name: str
    library: str
    bit_generator: str
    seed_min: int
    seed_max: int
    generator: str = Field(description="The generator, as Python.")
    jump: str = Field(description="How the bit generator jumps, or `none`.")
    jump_cost_ms: float = Field(description="Estimated cost of one jump.")
    devices: dict[str, dict[str, int]] = Field(
        description="Named parameter presets for device= (e.g. GPU launch profiles); empty "
                    "when the engine's streams do not depend on a device.")
    doc: str
    generated_on: str | None = Field(
        None, description="Where this process makes the engine's streams, when that varies "
                          "(e.g. `gpu: <device, SMs, threads/SM>` for the GPU's own launch "
                          "profile, or `cpu: Philox emulation`); null otherwise.")
    distributions: list[DistributionInfo]
    refused: dict[str, str] = Field(
        default_factory=dict,
        description="Samplers of the library this engine does not serve as streams, with "
                    "the reason (torch-cpu: kernels whose values are not a function of the "
                    "generator's words on every build).")


class EnginesResponse(BaseModel):
    engines: list[EngineInfo]
    formats: dict[str, str]
    limits: Limits
    cache: CacheStats
    versions: Versions


InitName = Enum("InitName", {n: n for n in INITS}, type=str)  # type: ignore[misc]
FloatDType = Literal["float32", "float64", "float16", "bfloat16"]
TensorFormatName = Literal["json", "safetensors", "npz"]


class TensorInitRequest(BaseModel):
    """``g = torch.Generator().manual_seed(seed); t = torch.empty(shape, dtype=dtype);
    torch.nn.init.<init>(t, **args, generator=g)``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"seed": 42, "init": "kaiming_uniform_", "shape": [10, 10], "dtype": "float32",
         "args": {"a": 2.23606797749979}}]})

    seed: JsonInt | None = Field(None, ge=0, le=2**64 - 1,
                             description="Seed of the torch CPU generator (or run).")
    run: str | None = Field(None, description="A named run (PUT /v1/runs/{name}) instead of "
                                              "seed: torch's seed derives from the run's as its "
                                              "torch-cpu streams' does.")
    allow_version_drift: StrictBool = Field(
        False, description="With run: serve a run created under other library versions.")
    init: InitName = Field(description="A torch.nn.init function (see /v1/inits).")
    shape: list[JsonSize] = Field(max_length=8, description="Tensor shape; every size >= 1.")
    dtype: FloatDType = "float32"
    args: dict[str, Any] = Field(default_factory=dict,
                                 description="Keyword arguments of the init (see /v1/inits).")


class ModulesInitRequest(BaseModel):
    """The state_dict of ``nn.Sequential(*modules)`` built right after
    ``torch.manual_seed(seed)``, each parameterised module with ``dtype=``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"seed": 42, "dtype": "float32", "modules": [
            {"type": "Linear", "in_features": 10, "out_features": 10}, {"type": "ReLU"},
            {"type": "Linear", "in_features": 10, "out_features": 2}]}]})

    seed: JsonInt | None = Field(None, ge=0, le=2**64 - 1,
                             description="Seed given to torch.manual_seed (or run).")
    run: str | None = Field(None, description="A named run (PUT /v1/runs/{name}) instead of "
                                              "seed: torch's seed derives from the run's as its "
                                              "torch-cpu streams' does.")
    allow_version_drift: StrictBool = Field(
        False, description="With run: serve a run created under other library versions.")
    dtype: FloatDType = "float32"
    modules: list[dict[str, Any]] = Field(
        min_length=1, max_length=256,
        description="Layers in order: {\"type\": <name>, <constructor arguments>...}; the "
                    "types and their arguments are listed at /v1/inits.")


class ArgInfo(BaseModel):
    name: str
    type: str
    default: Any
    required: bool


class InitInfo(BaseModel):
    name: str
    random: bool
    args: list[ArgInfo]
    dims: str
    dtypes: list[str]
    doc: str


class ModuleInfo(BaseModel):
    type: str
    args: list[ArgInfo]
    takes_dtype: bool


class InitsResponse(BaseModel):
    inits: list[InitInfo]
    modules: list[ModuleInfo]
    formats: dict[str, str]
    max_elements: int


class RecipeStep(BaseModel):
    code: str
    fixes: str = Field(description="What it makes reproducible.")
    costs: str = Field(description="What it costs.")


class SeedsResponse(BaseModel):
    seed: int
    run: str | None = Field(None, description="The named run whose seed this is (run=).")
    spawn_key: list[int]
    seeds: dict[str, int | str | None] = Field(
        description="Per engine: the integer seed its generator gets, or for numpy Generator "
                    "engines the SeedSequence expression.")
    framework_seeds: dict[str, int | str] = Field(
        default_factory=dict,
        description="Per process-wide seeding role (`python`: random.seed, `numpy`: "
                    "np.random.seed, `torch`: torch.manual_seed, `numpy_generator`: "
                    "np.random.default_rng): the seed the recipe gives it, that of the engine "
                    "whose stream that call makes. What the client's seed_everything uses.")
    numpy_generator: str = Field(description="The worker's np.random.default_rng call.")
    recipe: list[RecipeStep]
    code: str = Field(description="The recipe as one Python block.")
    frameworks: dict[str, Any] = Field(
        default_factory=dict,
        description="What Lightning (seed_everything; pl_worker_init_function given worker_id "
                    "and base_seed) and Accelerate (set_seed(seed, device_specific=True) at "
                    "process_index = rank) seed random, numpy and torch with.")
    derivation: str


class TensorValues(BaseModel):
    shape: list[int]
    dtype: str
    values: list[float | str] | list[int] = Field(
        description="Flattened in row-major order; floats printed exactly (non-finite ones as "
                    "the strings \"inf\", \"-inf\", \"nan\").")


class TensorInitResponse(BaseModel):
    """JSON form of ``POST /v1/tensors/init`` (safetensors and .npz carry the same tensor)."""

    run: str | None = Field(None, description="The named run the seed derives from (run=).")
    seed: int
    init: str
    shape: list[int]
    dtype: str
    args: dict[str, JsonValue] = Field(description="The init's arguments, parsed.")
    reference: str = Field(description="Python that makes the tensor with torch itself.")
    versions: Versions
    tensors: dict[str, TensorValues] = Field(description="`tensor`: the initialised tensor.")


class ModulesInitResponse(BaseModel):
    """JSON form of ``POST /v1/modules/init``."""

    run: str | None = Field(None, description="The named run the seed derives from (run=).")
    seed: int
    dtype: str
    modules: list[dict[str, JsonValue]] = Field(description="The modules, parsed: `type` and "
                                                            "their arguments.")
    reference: str = Field(description="Python that builds the state_dict with torch itself.")
    versions: Versions
    tensors: dict[str, TensorValues] = Field(description="The state_dict, by key.")


class Health(BaseModel):
    status: Literal["ok", "failed"]
    detail: dict[str, JsonValue] = Field(default_factory=dict)
