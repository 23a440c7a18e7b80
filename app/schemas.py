"""Request and response shapes of the HTTP API (they also make the OpenAPI document)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.checkpoints import CacheStats
from app.core.dtypes import DTYPES
from app.core.inits.tensors import INITS
from app.core.registry import ENGINES
from app.core.streams import Limits

EngineName = Enum("EngineName", {n.replace("-", "_"): n for n in ENGINES}, type=str)  # type: ignore[misc]
DistributionName = Enum(  # type: ignore[misc]
    "DistributionName",
    {d: d for e in ENGINES.values() for d in e.distributions},
    type=str,
)
DTypeName = Enum("DTypeName", {d: d for d in DTYPES}, type=str)  # type: ignore[misc]
FormatName = Literal["json", "npy", "raw"]

NUMBER_DOC = (
    "A decimal number. For `integers` an exact integer (`low` and `high` required, `high` "
    "exclusive); for `uniform` a float (default low=0, high=1)."
)


class StreamParams(BaseModel):
    """What names a stream and a position in it. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(description="Seed of the generator; its range depends on the engine "
                                  "(see /v1/engines).", examples=[7])
    spawn_key: str | None = Field(
        None, description="A worker's stream: comma-separated non-negative integers, e.g. `3` "
                          "or `0,5`. numpy Generator engines use `SeedSequence(seed, "
                          "spawn_key=...)` (spawn_key=3 is `SeedSequence(seed).spawn(4)[3]`); "
                          "numpy-legacy uses the seed `SeedSequence(seed, spawn_key)."
                          "generate_state(1, uint32)[0]`, python-random and torch-cpu "
                          "`generate_state(1, uint64)[0]`.")
    offset: int = Field(0, description="Index of the first element.", ge=0)
    device: str | None = Field(
        None, description="torch-cuda only: the GPU whose launch grid defines the stream past "
                          "one wave (h100-sxm, h200, a100, ...; see the README), instead of "
                          "sms= and threads_per_sm=.")
    sms: str | None = Field(None, description="torch-cuda only: SM count (default 132).")
    threads_per_sm: str | None = Field(
        None, description="torch-cuda only: max resident threads per SM (default 2048).")
    dtype: DTypeName | None = Field(
        None, description="Element type; default depends on the engine (see /v1/engines).")
    low: str | None = Field(None, description=f"uniform, integers: lower bound. {NUMBER_DOC}")
    high: str | None = Field(None, description=f"uniform, integers: upper bound (exclusive). "
                                               f"{NUMBER_DOC}")
    loc: str | None = Field(None, description="normal: mean (default 0).")
    scale: str | None = Field(None, description="normal: standard deviation >= 0 (default 1).")

    def params(self) -> dict[str, str]:
        raw = {"low": self.low, "high": self.high, "loc": self.loc, "scale": self.scale,
               "sms": self.sms, "threads_per_sm": self.threads_per_sm}
        return {k: v for k, v in raw.items() if v is not None}


class StreamQuery(StreamParams):
    """Query parameters of a stream slice. Unknown parameters are refused."""

    count: int = Field(description="Number of elements; at most the configured max_count.",
                       ge=0, examples=[3])
    format: FormatName | None = Field(
        None, description="json (default), npy or raw; overrides the Accept header.")


class StateQuery(StreamParams):
    """Query parameters of a generator-state handoff. Unknown parameters are refused."""

    format: Literal["json", "raw"] | None = Field(
        None, description="json (default); raw: torch-cpu only, the state bytes for "
                          "torch.Generator.set_state.")


class StateResponse(BaseModel):
    engine: str
    distribution: str
    seed: int
    spawn_key: list[int]
    offset: int
    block_start: int = Field(description="Where the state is: offset, or for torch-cpu normal "
                                         "the start of its 16-element block.")
    skip: int = Field(description="Elements to drop after block_start: offset - block_start.")
    dtype: str
    params: dict[str, float | int]
    state: Any = Field(description="The library's own state: the np.random.set_state tuple, "
                                   "the bit generator's state dict, the random.setstate tuple, "
                                   "or torch's Generator state bytes in base64.")
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
                    "torch-cpu depend on it.")
    cuda_device: str = Field(description="The GPU this server sees, or none.")


class StreamSlice(BaseModel):
    """JSON form of a slice. Floats are printed exactly: parse and cast to dtype for the bits."""

    engine: str
    distribution: str
    seed: int
    offset: int
    count: int
    next_offset: int = Field(description="offset + count: where the next consecutive slice starts.")
    spawn_key: list[int]
    dtype: str
    params: dict[str, float | int]
    reference: str = Field(description="Python that reproduces this slice with the library itself.")
    versions: Versions
    values: list[float | str] | list[int] = Field(
        description="The elements. Non-finite floats (which some samplers make, e.g. pareto "
                    "or f with tiny parameters) are the strings \"inf\", \"-inf\", \"nan\".")


class ErrorBody(BaseModel):
    error: str = Field(description="invalid_parameter, limit_exceeded, not_found, not_acceptable")
    parameter: str | None = Field(description="The parameter at fault.")
    message: str


class ParamInfo(BaseModel):
    name: str
    type: Literal["float", "int"]
    default: float | int | None
    required: bool
    doc: str = Field(description="Meaning and domain, e.g. `Shape k. (>= 0)`.")
    example: float | int | None = Field(None, description="A valid value.")


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
        description="Named parameter presets for device= (torch-cuda: GPU launch profiles).")
    doc: str
    generated_on: str | None = Field(
        None, description="Where this process makes the engine's streams, when that varies: "
                          "torch-cuda `gpu: <device, SMs, threads/SM>` (the GPU's own launch "
                          "profile; other profiles are emulated) or `cpu: Philox emulation`.")
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

    seed: int = Field(ge=0, le=2**64 - 1, description="Seed of the torch CPU generator.")
    init: InitName = Field(description="A torch.nn.init function (see /v1/inits).")
    shape: list[int] = Field(max_length=8, description="Tensor shape; every size >= 1.")
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

    seed: int = Field(ge=0, le=2**64 - 1, description="Seed given to torch.manual_seed.")
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
    spawn_key: list[int]
    seeds: dict[str, int | str | None] = Field(
        description="Per engine: the integer seed its generator gets, or for numpy Generator "
                    "engines the SeedSequence expression.")
    numpy_generator: str = Field(description="The worker's np.random.default_rng call.")
    recipe: list[RecipeStep]
    code: str = Field(description="The recipe as one Python block.")
    derivation: str


class Health(BaseModel):
    status: Literal["ok"]
    detail: dict[str, Any] = Field(default_factory=dict)
