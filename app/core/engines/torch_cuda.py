"""``torch-cuda``: the streams of ``torch.Generator("cuda").manual_seed(seed)``.

The reference call, for a GPU with a given SM count and threads per SM::

    g = torch.Generator("cuda").manual_seed(seed)
    x = torch.empty(N, dtype=T, device="cuda").uniform_(low, high, generator=g)

Element i of such a call depends only on (seed, i, the GPU's largest launch), never on N:
the stream is prefix-stable for a given device profile, and the CPU emulation in
``app.core.cuda._philox`` reproduces uniform_ and randint bit for bit (O(1) per element:
counter arithmetic). Normal uses GPU math intrinsics: not emulated. When the runtime a
stream is resolved on has a GPU (``Runtime.gpu``, from the ``cuda`` setting), streams of that
GPU's own profile, normal included, are made on it instead; without one, normal is a 501.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from app.core.cuda import _philox  # type: ignore[attr-defined]
from app.core.cuda.devices import DEFAULT_DEVICE, DEVICES, launch_wave
from app.core.cuda.gpu import Gpu
from app.core.dtypes import DType
from app.core.errors import AuthorityError, InvalidParameter
from app.core.params import (
    INTEGER_PARAMS,
    NORMAL_PARAMS,
    UNIFORM_PARAMS,
    check_integers,
    check_normal,
    check_uniform,
)
from app.core.spec import (
    Array,
    CallInfo,
    DeviceProfiles,
    Distribution,
    DistributionSpec,
    GeneratorCursor,
    GeneratorEngine,
    Param,
    Params,
    RandomAccess,
    Runtime,
    SeedInput,
    Stream,
    int_seed,
)
from app.core.torch_dtypes import FLOATS, INTS, check_int64_high

MAX_CALL = 2**31 - 1
"""torch splits larger tensors into 32-bit-indexed pieces, each drawing its own offset."""
_DEFAULT = DEVICES[DEFAULT_DEVICE]
DEVICE_PARAMS = (
    Param("sms", "int", _DEFAULT.sms, "GPU streaming multiprocessors (default: H100/H200)."),
    Param("threads_per_sm", "int", _DEFAULT.threads_per_sm, "Max resident threads per SM."),
)


class NeedsGPU(AuthorityError):
    status = 501
    code = "needs_gpu"


@dataclass
class Position:
    """A torch-cuda 'generator' here: a seed and an element index (counter arithmetic), and
    the GPU that makes the stream (None: emulated on the CPU)."""

    seed: int
    index: int
    gpu: Gpu | None = None


@dataclass(frozen=True)
class Saved:
    """A saved ``Position``."""

    seed: int
    index: int
    gpu: Gpu | None


def wave(p: Params) -> int:
    return launch_wave(int(p["sms"]), int(p["threads_per_sm"]))


def launch_threads(p: Params, n: int) -> int:
    """Threads of torch's launch for a call of n elements."""
    return 256 * min(-(-n // 256), wave(p) // 256)


def unroll(p: Params, dt: DType, dist: str) -> int:
    """Values per curand4 call: 4 (float, half, bfloat16, int ranges < 2**28) or 2."""
    if dist == "integers":
        return 4 if int(p["high"]) - int(p["low"]) < 2**28 else 2
    return 2 if dt.name == "float64" else 4


def offset_increment(p: Params, dt: DType, dist: str, n: int) -> int:
    """How far a call of n elements moves the CUDA generator's Philox offset."""
    return ((n - 1) // (launch_threads(p, n) * unroll(p, dt, dist)) + 1) * 4


def on_gpu(runtime: Runtime, p: Params) -> Gpu | None:
    """The runtime's GPU when the profile asked for is its own, else None (emulate)."""
    device = runtime.gpu
    return device if device is not None and device.serves(wave(p)) else None


def _gpu_draw(device: Gpu, pos: Position, dist: str, p: Params, dt: DType,
              n: int) -> Array:
    start = pos.index
    pos.index += n
    return device.draw(pos.seed, start, n, dist, dt, p, unroll(p, dt, dist))


def generated_on(runtime: Runtime, p: Params | None = None) -> str:
    """Where streams of this profile (or of the GPU's own, with None) are made."""
    device = runtime.gpu
    if device is not None and (p is None or device.serves(wave(p))):
        return f"gpu: {device.describe()}"
    return "cpu: Philox emulation"


def _bfloat16_bits(x: Array) -> Array:
    """float32 -> bfloat16 bit patterns, rounding to nearest even (c10::BFloat16)."""
    bits = x.astype(np.float32).view(np.uint32)
    rounding = ((bits >> np.uint32(16)) & np.uint32(1)) + np.uint32(0x7FFF)
    return ((bits + rounding) >> np.uint32(16)).astype(np.uint16)


def _uniform(pos: Position, p: Params, dt: DType, n: int) -> Array:
    device = pos.gpu
    if device is not None:
        return _gpu_draw(device, pos, "uniform", p, dt, n)
    threads, start = wave(p), pos.index
    pos.index += n
    if dt.name == "float64":
        low, high = float(p["low"]), float(p["high"])
        out = np.frombuffer(_philox.uniform64(pos.seed, start, n, threads, high - low, low),
                            dtype=np.float64).copy()
        out[out == high] = low
        return out
    # float, half, bfloat16: from and to cast to the dtype, range = to - from in float and
    # cast to the dtype too, then fma in float (opmath) and a cast back; a value equal to
    # `to` becomes `from`.
    frm, to = _in(dt, float(p["low"])), _in(dt, float(p["high"]))
    rng = _in(dt, float(np.float32(to) - np.float32(frm)))
    value = np.frombuffer(_philox.uniform32(pos.seed, start, n, threads, rng, frm),
                          dtype=np.float32)
    cast = _cast(value, dt.name)
    cast[cast == _cast(np.array([to], dtype=np.float32), dt.name)[0]] = _cast(
        np.array([frm], dtype=np.float32), dt.name)[0]
    return cast


def _cast(x: Array, dtype: str) -> Array:
    """float32 values in the dtype's storage (bfloat16: bit patterns)."""
    if dtype == "bfloat16":
        return _bfloat16_bits(x)
    return x.astype(dtype)


def _in(dt: DType, x: float) -> float:
    """x rounded to the dtype, as a float (every such value is one exactly)."""
    return float(dt.exact_values(_cast(np.array([x], dtype=np.float32), dt.name))[0])


def _integers(pos: Position, p: Params, dt: DType, n: int) -> Array:
    device = pos.gpu
    if device is not None:
        return _gpu_draw(device, pos, "integers", p, dt, n)
    low, high = int(p["low"]), int(p["high"])
    width, start, threads = high - low, pos.index, wave(p)
    pos.index += n
    if width >= 2**28:
        raw = np.frombuffer(_philox.raw64(pos.seed, start, n, threads), dtype=np.uint64)
    else:
        raw = np.frombuffer(_philox.raw32(pos.seed, start, n, threads),
                            dtype=np.uint32).astype(np.uint64)
    # (rand % range) + base in uint64, then int64, then the dtype (C casts wrap)
    value = (raw % np.uint64(width)) + np.uint64(low % 2**64)
    return value.view(np.int64).astype(dt.name)


def _normal(pos: Position, p: Params, dt: DType, n: int) -> Array:
    device = pos.gpu
    if device is None:
        raise _needs_gpu()
    return _gpu_draw(device, pos, "normal", p, dt, n)


def _needs_gpu() -> NeedsGPU:
    return NeedsGPU("distribution", "CUDA normal uses curand's Box-Muller with GPU math "
                   "intrinsics (__sincosf) whose exact algorithm is not documented: it "
                   "cannot be reproduced on a CPU, and this authority has no GPU. An "
                   "authority running on a GPU serves it, for that GPU's launch profile.")


def _check_device(p: Params) -> None:
    if not 1 <= int(p["sms"]) <= 1024:
        raise InvalidParameter("sms", "must be in 1..1024")
    if int(p["threads_per_sm"]) % 256 or not 256 <= int(p["threads_per_sm"]) <= 4096:
        raise InvalidParameter("threads_per_sm", "must be a multiple of 256 in 256..4096")


def _check_uniform(p: Params, dt: DType) -> None:
    check_uniform(p, dt)
    _check_device(p)


def _check_integers(p: Params, dt: DType) -> None:
    check_integers(p, dt)
    check_int64_high(p)
    _check_device(p)


def _check_normal(p: Params, dt: DType) -> None:
    check_normal(p, dt)
    _check_device(p)


def _check_on_gpu(p: Params, runtime: Runtime) -> None:
    """normal is made on the runtime's GPU only, for that GPU's own launch profile."""
    device = runtime.gpu
    if device is None:
        raise _needs_gpu()
    if not device.serves(wave(p)):
        raise InvalidParameter(
            "device", f"normal is generated on this authority's GPU, {device.describe()}, "
            f"whose launch wave is {device.wave} threads; the profile asked for (sms="
            f"{int(p['sms'])}, threads_per_sm={int(p['threads_per_sm'])}) has a wave of "
            f"{wave(p)}, so its normals past the first wave are another GPU's. Ask for "
            f"sms={device.sms}&threads_per_sm={device.threads_per_sm}, or an authority on "
            "that GPU.")


def _call(method: str) -> Callable[[Params, DType, int | str], str]:
    def call(p: Params, dt: DType, n: int | str) -> str:
        return (f'torch.empty({n}, dtype=torch.{dt.name}, device="cuda").{method}('
                f"{p.get('low', p.get('loc'))!r}, {p.get('high', p.get('scale'))!r}, "
                "generator=g)")
    return call


def _randint_call(p: Params, dt: DType, n: int | str) -> str:
    return (f"torch.randint({p['low']}, {p['high']}, ({n},), dtype=torch.{dt.name}, "
            'device="cuda", generator=g)')


class TorchCuda(GeneratorEngine[Position, Saved]):
    name = "torch-cuda"
    library = "torch"
    bit_generator = ("Philox4x32-10 (curand): on this authority's GPU, else emulated on the "
                     "CPU")
    seed_max = 2**64 - 1
    imports = "import torch"
    setup = 'g = torch.Generator("cuda").manual_seed({seed})  # on the GPU profile asked for'
    state_nbytes = 64
    access = RandomAccess(
        "counter", "counter arithmetic: element i is a function of (seed, i, device profile)",
        lambda units: 1e3)
    seed_bits = 64
    max_reference = MAX_CALL
    max_reference_doc = "torch splits larger calls into pieces with their own offsets"
    no_state_reason = ("which counter an element uses depends on the size of the call that "
                       "makes it")
    devices = DeviceProfiles({name: {"sms": d.sms, "threads_per_sm": d.threads_per_sm}
                              for name, d in DEVICES.items()})
    response_headers = MappingProxyType({
        "X-Cuda-Offset-Increment": "torch-cuda only: how far the equivalent local call (offset "
                                   "+ count elements) moves the CUDA generator's Philox offset.",
        "X-Cuda-Generated-On": "torch-cuda only: `gpu: <device>` (made on this authority's "
                               "GPU) or `cpu: Philox emulation`.",
    })
    doc = ("torch.Generator('cuda').manual_seed(seed) (CUDA keeps all 64 bits of the seed). "
           "Past one launch wave (256 * SMs * threads_per_sm / 256 elements: 270,336 on "
           "H100/H200, 221,184 on A100) values depend on the GPU: give device= or sms= and "
           "threads_per_sm=. On an authority with CUDA, the GPU's own profile is generated on "
           "it (set_offset to the slice's curand call); other profiles, and every profile on a "
           "CPU-only authority, are emulated bit-exactly on the CPU for uniform and integers. "
           "normal needs a GPU authority, for that GPU's profile.")

    def new(self, seed: SeedInput) -> Position:
        return Position(int_seed(seed), 0)

    def save(self, pos: Position) -> Saved:
        return Saved(pos.seed, pos.index, pos.gpu)

    def restore(self, state: Saved) -> Position:
        return Position(state.seed, state.index, state.gpu)

    def jumped(self, seed: SeedInput, units: int) -> Position:
        return Position(int_seed(seed), units)

    def cursor(self, stream: Stream, gen: Position) -> GeneratorCursor[Position, Saved]:
        """A cursor that makes the stream on the stream's runtime: its GPU, when the profile
        is that GPU's own, else the CPU emulation."""
        gen.gpu = on_gpu(stream.runtime, stream.params)
        return super().cursor(stream, gen)

    def check_runtime(self, dist: DistributionSpec, params: Params, runtime: Runtime) -> None:
        if dist.name == "normal":
            _check_on_gpu(params, runtime)

    def call_info(self, dist: DistributionSpec, params: Params, dtype: DType, n: int,
                  runtime: Runtime) -> CallInfo:
        where = generated_on(runtime, params)
        increment = offset_increment(params, dtype, dist.name, n) if n else 0
        facts: dict[str, int | str] = {
            "cuda_offset_increment": increment,
            "cuda_launch_threads": launch_threads(params, n) if n else 0,
            "cuda_wave": wave(params), "sms": int(params["sms"]),
            "threads_per_sm": int(params["threads_per_sm"]), "generated_on": where}
        return CallInfo(facts, {"X-Cuda-Offset-Increment": str(increment),
                                "X-Cuda-Generated-On": where})

    def generated_on(self, runtime: Runtime) -> str:
        return generated_on(runtime)


ENGINE = TorchCuda(
    {
        "uniform": Distribution(
            name="uniform", params=UNIFORM_PARAMS + DEVICE_PARAMS, dtypes=FLOATS,
            default_dtype="float32", draw=_uniform, check=_check_uniform, cost_ns=60,
            call=_call("uniform_"),
            units=lambda p, dt: 1, access_with_seek="direct",
            notes="curand_uniform4 (float, half, bfloat16) or curand_uniform2_double, then "
                  "fma(rand, to - from, from); a value equal to `to` becomes `from`."),
        "normal": Distribution(
            name="normal", params=NORMAL_PARAMS + DEVICE_PARAMS, dtypes=FLOATS,
            default_dtype="float32", draw=_normal, check=_check_normal, cost_ns=60,
            call=_call("normal_"),
            units=lambda p, dt: 1, access_with_seek="direct",
            notes="Generated on this authority's GPU, for that GPU's own launch profile (a 422 "
                  "naming `device` for another); not reproducible on a CPU (501 on a "
                  "CPU-only authority)."),
        "integers": Distribution(
            name="integers", params=INTEGER_PARAMS + DEVICE_PARAMS, dtypes=INTS,
            default_dtype="int64", draw=_integers, check=_check_integers, cost_ns=60,
            call=_randint_call, units=lambda p, dt: 1, access_with_seek="direct",
            notes="(rand % range) + low: 32-bit words below a range of 2**28, else 64-bit."),
    },
)
