"""``torch.nn.init`` functions: the table of what may be called, and how.

The reference call, for a random init::

    g = torch.Generator().manual_seed(seed)
    t = torch.empty(shape, dtype=dtype)
    torch.nn.init.<init>(t, **args, generator=g)

``sparse_`` draws its zero positions with ``torch.randperm`` from the *global* generator
(it ignores ``generator=`` there, in torch 2.13), so its reference call also seeds the
global generator with the same seed first; the service does so under its global lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import init as nn_init

from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter
from app.core.inits.args import REQUIRED, Arg, value_of
from app.core.inits.global_rng import seeded_global_rng
from app.core.params import NORMAL_SPAN
from app.core.torch_dtypes import FLOATS, TORCH_DTYPES

NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu")
MAX_TRUNC_DRAWS = 5e8
MAX_QR_WORK = 2e10

Check = Callable[[tuple[int, ...], str, Mapping[str, Any]], None]


def _no_check(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    pass


@dataclass(frozen=True)
class InitSpec:
    name: str
    fn: Callable[..., torch.Tensor]
    args: tuple[Arg, ...]
    random: bool
    min_dims: int = 0
    max_dims: int | None = None
    dtypes: tuple[str, ...] = FLOATS
    check: Check = _no_check
    global_rng: bool = False
    doc: str = ""

    def arg(self, args: Mapping[str, Any], name: str) -> Any:
        return value_of(args, self.args, name)


def _finite_in(dtype: str, name: str, x: float) -> None:
    top = float(DTYPES[dtype].max)
    if abs(x) > top:
        raise InvalidParameter(f"args.{name}", f"{x!r} is outside the finite range of {dtype}")


def _check_uniform(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    a, b = INITS["uniform_"].arg(args, "a"), INITS["uniform_"].arg(args, "b")
    if not a < b:
        raise InvalidParameter("args.b", f"must be greater than a (a={a!r}, b={b!r})")
    _finite_in(dtype, "a", a)
    _finite_in(dtype, "b", b)
    _finite_in(dtype, "b", b - a)


def _check_normal(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    mean, std = INITS["normal_"].arg(args, "mean"), INITS["normal_"].arg(args, "std")
    _finite_in(dtype, "std", abs(mean) + NORMAL_SPAN * std)


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _check_trunc_normal(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    spec = INITS["trunc_normal_"]
    mean, std, a, b = (spec.arg(args, k) for k in ("mean", "std", "a", "b"))
    if not a < b:
        raise InvalidParameter("args.b", f"must be greater than a (a={a!r}, b={b!r})")
    if mean < a - 2 * std or mean > b + 2 * std:
        raise InvalidParameter("args.mean", "is more than 2 std outside [a, b]: torch warns that "
                                            "the values may then be incorrect")
    for name, x in (("a", a), ("b", b), ("std", abs(mean) + NORMAL_SPAN * std)):
        _finite_in(dtype, name, x)
    # torch redraws rejected elements, a whole tensor's worth per round: bound the rounds.
    p = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    accept, per_round = p, 1
    if p <= 0.3:
        mode = max(a, min(mean, b))
        peak = math.exp(-0.5 * ((mode - mean) / std) ** 2)
        accept, per_round = p * std * math.sqrt(2 * math.pi) / ((b - a) * peak), 2
    n = math.prod(shape)
    rounds = math.inf
    if accept > 0:
        rounds = 1 + math.log(max(n, 2)) / -math.log1p(-min(accept, 0.999999))
    if n * rounds * per_round > MAX_TRUNC_DRAWS:
        raise InvalidParameter("args", f"trunc_normal_ would need ~{rounds:.0f} redraw rounds "
                                       f"of {n} elements (acceptance {accept:.2g}); widen "
                                       "[a, b] or shrink the tensor")


def _check_orthogonal(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    rows = shape[0]
    cols = math.prod(shape) // rows
    work = max(rows, cols) * min(rows, cols) ** 2
    if work > MAX_QR_WORK:
        raise InvalidParameter("shape", f"orthogonal_ runs a QR of a {rows}x{cols} matrix "
                                        f"(~{work:.1e} flops), over the limit {MAX_QR_WORK:.0e}")


def _check_constant(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    _finite_in(dtype, "val", args["val"])


def _check_dirac(shape: tuple[int, ...], dtype: str, args: Mapping[str, Any]) -> None:
    groups = INITS["dirac_"].arg(args, "groups")
    if shape[0] % groups:
        raise InvalidParameter("args.groups", f"must divide shape[0] = {shape[0]}")


GAIN = Arg("gain", "float", 1.0, min=0, doc="Scaling factor.")
KAIMING = (
    Arg("a", "float", 0.0, doc="Negative slope of the rectifier (leaky_relu)."),
    Arg("mode", "choice", "fan_in", choices=("fan_in", "fan_out")),
    Arg("nonlinearity", "choice", "leaky_relu", choices=NONLINEARITIES),
)

INITS: dict[str, InitSpec] = {s.name: s for s in (
    InitSpec("uniform_", nn_init.uniform_, (Arg("a", "float", 0.0), Arg("b", "float", 1.0)),
             True, check=_check_uniform),
    InitSpec("normal_", nn_init.normal_,
             (Arg("mean", "float", 0.0), Arg("std", "float", 1.0, min=0)), True,
             check=_check_normal, doc="torch's 16-element normal blocks apply."),
    InitSpec("trunc_normal_", nn_init.trunc_normal_,
             (Arg("mean", "float", 0.0), Arg("std", "float", 1.0, min=0, exclusive_min=True),
              Arg("a", "float", -2.0), Arg("b", "float", 2.0)), True,
             check=_check_trunc_normal),
    InitSpec("xavier_uniform_", nn_init.xavier_uniform_, (GAIN,), True, min_dims=2),
    InitSpec("xavier_normal_", nn_init.xavier_normal_, (GAIN,), True, min_dims=2),
    InitSpec("kaiming_uniform_", nn_init.kaiming_uniform_, KAIMING, True, min_dims=2),
    InitSpec("kaiming_normal_", nn_init.kaiming_normal_, KAIMING, True, min_dims=2),
    InitSpec("orthogonal_", nn_init.orthogonal_, (Arg("gain", "float", 1.0),), True,
             min_dims=2, dtypes=("float32", "float64"), check=_check_orthogonal,
             doc="normal_ then a LAPACK QR: the bits depend on the LAPACK build. torch has no "
                 "float16/bfloat16 QR on the CPU."),
    InitSpec("sparse_", nn_init.sparse_,
             (Arg("sparsity", "float", REQUIRED, min=0, max=1), Arg("std", "float", 0.01, min=0)),
             True, min_dims=2, max_dims=2, global_rng=True,
             doc="Zero positions come from torch.randperm on the global generator: the "
                 "reference seeds it too (torch.manual_seed(seed))."),
    InitSpec("constant_", nn_init.constant_, (Arg("val", "float", REQUIRED),), False,
             check=_check_constant),
    InitSpec("zeros_", nn_init.zeros_, (), False),
    InitSpec("ones_", nn_init.ones_, (), False),
    InitSpec("eye_", nn_init.eye_, (), False, min_dims=2, max_dims=2),
    InitSpec("dirac_", nn_init.dirac_, (Arg("groups", "int", 1, min=1),), False, min_dims=3,
             max_dims=5, check=_check_dirac),
)}


def check_request(spec: InitSpec, shape: Sequence[int], dtype: str,
                  args: Mapping[str, Any]) -> None:
    dims = len(shape)
    if dims < spec.min_dims or (spec.max_dims is not None and dims > spec.max_dims):
        want = (f"exactly {spec.min_dims}" if spec.max_dims == spec.min_dims
                else f"{spec.min_dims} to {spec.max_dims}" if spec.max_dims
                else f"at least {spec.min_dims}")
        raise InvalidParameter("shape", f"{spec.name} needs {want} dimensions, got {dims}")
    if dtype not in spec.dtypes:
        raise InvalidParameter("dtype", f"{spec.name} takes {', '.join(spec.dtypes)}")
    spec.check(tuple(shape), dtype, args)


def init_tensor(spec: InitSpec, seed: int, shape: Sequence[int], dtype: str,
                args: Mapping[str, Any]) -> torch.Tensor:
    """The tensor the reference call makes (arguments already checked)."""
    t = torch.empty(tuple(shape), dtype=TORCH_DTYPES[dtype])
    if not spec.random:
        spec.fn(t, **args)
        return t
    g = torch.Generator().manual_seed(seed)
    if spec.global_rng:
        with seeded_global_rng(seed):
            spec.fn(t, **args, generator=g)
    else:
        spec.fn(t, **args, generator=g)
    return t


def reference(spec: InitSpec, seed: int, shape: Sequence[int], dtype: str,
              args: Mapping[str, Any]) -> str:
    kwargs = "".join(f", {k}={v!r}" for k, v in args.items())
    lines = ["import torch"]
    if spec.random:
        lines.append(f"g = torch.Generator().manual_seed({seed})")
        if spec.global_rng:
            lines.append(f"torch.manual_seed({seed})  # sparse_ draws zero positions globally")
        kwargs += ", generator=g"
    lines.append(f"t = torch.empty({tuple(shape)!r}, dtype=torch.{dtype})")
    lines.append(f"torch.nn.init.{spec.name}(t{kwargs})")
    return "\n".join(lines) + "\n"
