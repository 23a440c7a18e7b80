"""``torch-cpu``: ``torch.Generator().manual_seed(seed)`` on the CPU (mt19937).

Only per-request generators are used: nothing here touches torch's global generator.
float32/float16 bits of uniform_ and normal_ depend on the CPU kernel torch dispatches to
(``torch.backends.cpu.get_cpu_capability()``), which every response reports.
"""

from __future__ import annotations

import base64
import struct

import numpy as np
import torch

from app.core.dtypes import DType
from app.core.jump.mt19937 import JUMP_DOC, jump, jump_cost_ns
from app.core.methods.torch_methods import REFUSED
from app.core.methods.torch_methods import distributions as method_distributions
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
    Distribution,
    GeneratorEngine,
    GlobalSeeding,
    JSONValue,
    Params,
    RandomAccess,
    SeedingStep,
    SeedInput,
    StateExport,
    int_seed,
)
from app.core.torch_dtypes import FLOATS, INTS, TORCH_DTYPES, check_int64_high, to_numpy

NORMAL_BLOCK = 16


# Layout of the 5056-byte CPU generator state (CPUGeneratorImplState: a legacy pod, then the
# float normal cache): the_initial_seed u64, left i32, seeded i32, next u64, state u64[624],
# normal_x/y/rho f64, normal_is_valid i32, next_float_normal_sample f32, its valid flag.
_LEFT, _NEXT, _KEY, _WORDS = 8, 16, 24, 624


def _uniform(g: torch.Generator, p: Params, dt: DType, n: int) -> Array:
    t = torch.empty(n, dtype=TORCH_DTYPES[dt.name]).uniform_(p["low"], p["high"], generator=g)
    return to_numpy(t)


def _normal(g: torch.Generator, p: Params, dt: DType, n: int) -> Array:
    if n % NORMAL_BLOCK or n < NORMAL_BLOCK:
        raise ValueError(f"torch-cpu normal is drawn in whole 16-element blocks, not {n}")
    t = torch.empty(n, dtype=TORCH_DTYPES[dt.name]).normal_(p["loc"], p["scale"], generator=g)
    return to_numpy(t)


def _integers(g: torch.Generator, p: Params, dt: DType, n: int) -> Array:
    t = torch.randint(int(p["low"]), int(p["high"]), (n,), dtype=TORCH_DTYPES[dt.name],
                      generator=g)
    return to_numpy(t)


def _check_integers(p: Params, dt: DType) -> None:
    check_integers(p, dt)
    check_int64_high(p)


def _tensor(n: int | str, dt: DType) -> str:
    return f"torch.empty({n}, dtype=torch.{dt.name})"


class TorchCpu(GeneratorEngine[torch.Generator, torch.Tensor]):
    name = "torch-cpu"
    library = "torch"
    bit_generator = "mt19937 (init_genrand seeding of seed & 0xffffffff)"
    seed_max = 2**64 - 1
    imports = "import torch"
    setup = "g = torch.Generator().manual_seed({seed})"
    state_nbytes = 5_200
    refused = REFUSED
    access = RandomAccess("jump", JUMP_DOC, jump_cost_ns)
    state = StateExport(
        "torch.generator",
        "import base64\ng = torch.Generator()\n"
        "g.set_state(torch.frombuffer(bytearray(base64.b64decode(state)), dtype=torch.uint8))",
        binary=True)
    seed_bits = 64
    seeding = GlobalSeeding("torch", (
        SeedingStep("torch.manual_seed({seed})", "torch's CPU generator and every CUDA "
                    "device's."),
        SeedingStep("torch.cuda.manual_seed_all({seed})", "Every CUDA device's generator "
                    "(already done by torch.manual_seed; explicit for code that reseeds CUDA "
                    "alone)."),
    ))
    doc = ("A torch CPU generator: torch.Generator().manual_seed(seed); torch.manual_seed(seed) "
           "followed by torch.rand/randn/randint gives the same stream. Seeds 0..2**64-1.")

    def new(self, seed: SeedInput) -> torch.Generator:
        return torch.Generator().manual_seed(int_seed(seed))

    def save(self, g: torch.Generator) -> torch.Tensor:
        return g.get_state()

    def restore(self, state: torch.Tensor) -> torch.Generator:
        g = torch.Generator()
        g.set_state(state)
        return g

    def export(self, g: torch.Generator) -> JSONValue:
        return base64.b64encode(g.get_state().numpy().tobytes()).decode()

    def jumped(self, seed: SeedInput, units: int) -> torch.Generator:
        """Jump the mt19937 state array; the result has its next output at index 1, which in
        torch's terms is next = 1 with 624 calls left before the next twist."""
        g = self.new(seed)
        if units:
            raw = bytearray(g.get_state().numpy().tobytes())
            (left,) = struct.unpack_from("<i", raw, _LEFT)
            key = np.frombuffer(raw, dtype="<u8", count=_WORDS, offset=_KEY).astype(np.uint32)
            jumped = jump(key, 625 - left, units)
            struct.pack_into("<i", raw, _LEFT, _WORDS)
            struct.pack_into("<Q", raw, _NEXT, 1)
            raw[_KEY:_KEY + 8 * _WORDS] = jumped.astype("<u8").tobytes()
            g.set_state(torch.frombuffer(raw, dtype=torch.uint8))
        return g


ENGINE = TorchCpu(
    {
        "uniform": Distribution(
            name="uniform", params=UNIFORM_PARAMS, dtypes=FLOATS, default_dtype="float32",
            draw=_uniform, check=check_uniform, cost_ns=10,
            call=lambda p, dt, n: f"{_tensor(n, dt)}.uniform_({p['low']!r}, {p['high']!r}, "
                                  f"generator=g)",
            units=lambda p, dt: 2 if dt.name == "float64" else 1, access_with_seek="direct",
            notes="1 draw per element (float64: 2)."),
        "normal": Distribution(
            name="normal", params=NORMAL_PARAMS, dtypes=FLOATS, default_dtype="float32",
            draw=_normal, check=check_normal, cost_ns=22, block=NORMAL_BLOCK,
            call=lambda p, dt, n: f"{_tensor(n, dt)}.normal_({p['loc']!r}, {p['scale']!r}, "
                                  f"generator=g)",
            units=lambda p, dt: 2 if dt.name == "float64" else 1, access_with_seek="direct",
            notes="torch's CPU normal_ works in 16-element blocks and redraws the tail when the "
                  "size is not a multiple of 16, so torch.randn(20)[:16] != torch.randn(16). "
                  "The stream is defined by reference calls of a multiple of 16 elements "
                  "(>= 16), which are prefix-stable: element i comes from block i // 16."),
        "integers": Distribution(
            name="integers", params=INTEGER_PARAMS, dtypes=INTS, default_dtype="int64",
            draw=_integers, check=_check_integers, cost_ns=10,
            call=lambda p, dt, n: f"torch.randint({p['low']}, {p['high']}, ({n},), "
                                  f"dtype=torch.{dt.name}, generator=g)",
            units=lambda p, dt: 1 if int(p["high"]) - int(p["low"]) < 2**28 else 2,
            access_with_seek="direct",
            notes="r % range: 1 draw per element for ranges below 2**28, else 2; no rejection."),
        **method_distributions(),
    },
)
