"""torch's CPU samplers by their own names: ``torch.bernoulli`` of a p-filled tensor and the
in-place ``exponential_``, ``geometric_``, ``log_normal_``, ``cauchy_``, ``random_``.

Kernels (torch 2.13.0, ``aten/src/ATen/native/cpu/DistributionKernels.cpp`` and
``DistributionTemplates.h``; ``ATen/core/DistributionsHelper.h`` and
``TransformationHelper.h`` for the transforms): each of these runs ``cpu_serial_kernel``,
one element after another with the request's generator, so a call of n elements is the
first n of any longer call (prefix-stable) and calls add up (split-stable). Words of the
mt19937 per element: a ``uniform_real_distribution<double>`` (exponential, geometric,
cauchy, bernoulli of float64 p) takes ``random64()``, 2 words; ``<float>`` (bernoulli of
float32/float16/bfloat16 p) takes ``random()``, 1 word; ``log_normal_`` draws Box-Muller
pairs from two doubles (4 words) and keeps the partner in the generator, so it is entered
at even offsets; ``random_`` takes ``random64()`` for 64-bit dtypes, else ``random()``.

The MKL paths of ``bernoulli_(p)`` (a VSL stream seeded with one word of the generator,
split across threads) and ``exponential_`` are compiled out of torch's own builds (pytorch
issue 132395: only fbcode builds enable them); the tests pin this down by counting the
words each call consumes (a VSL path would take one word per call, not per element).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.methods.build import NONFINITE_NOTE, distribution
from app.core.methods.domain import P, check_all, named_in
from app.core.spec import Array, Distribution, Params
from app.core.torch_dtypes import FLOATS, TORCH_DTYPES, to_numpy

RANDOM_DTYPES = ("int64", "int32", "int16", "int8", "uint8", *FLOATS)
_SCRATCH = torch.Generator().manual_seed(0)

REFUSED: dict[str, str] = {
    "bernoulli_": "tensor.bernoulli_(p) with a float p runs bernoulli_scalar_kernel, which "
                  "builds with MKL RNG (fbcode; upstream's MKL generator work) turn into a VSL "
                  "stream seeded from one generator word and split across threads: not a "
                  "function of the generator's words on every build. Served as `bernoulli` "
                  "(torch.bernoulli of a tensor filled with p), whose kernel is serial on all "
                  "builds",
    "normal_ (fewer than 16 elements)": "numel < 16 takes the scalar Box-Muller path with a "
                                        "cached partner, numel >= 16 the 16-block vector "
                                        "path: `normal` is defined on 16-element blocks",
    "random_(from, to)": "served as `integers` (torch.randint, the same kernel)",
    "uniform_ float32/float16/bfloat16 on another CPU kernel": "AVX2/AVX-512 use fmaf, the "
                                                               "default kernel does not: "
                                                               "the capability is reported",
    "poisson, multinomial, randperm, normal with tensor arguments": "not streams of one "
                                                                     "parameter set",
}
"""What torch-cpu does not serve by these names, and why (listed at /v1/engines)."""


def _tdtype(dt: DType) -> torch.dtype:
    return TORCH_DTYPES[dt.name]


def _words_64(p: Params, dt: DType) -> int | None:
    return 2


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[P, ...]
    cost_ns: float
    apply: Callable[[torch.Tensor, list[float], torch.Generator], torch.Tensor]
    source: str
    """The call on the tensor, as Python (``{args}``, ``{n}``, ``{dtype}``)."""
    units: Callable[[Params, DType], int | None] = _words_64
    dtypes: tuple[str, ...] = FLOATS
    notes: str = ""
    block: int = 1
    extra: Callable[[Params], None] | None = None


METHODS: tuple[Method, ...] = (
    Method("bernoulli", (P("p", "Probability of a 1, rounded to dtype by torch.full.",
                           "[0,1]", default=0.5),), 15,
           lambda t, a, g: torch.bernoulli(t.fill_(a[0]), generator=g),
           "torch.bernoulli(torch.full(({n},), {args}, dtype=torch.{dtype}), generator=g)",
           units=lambda p, dt: 2 if dt.name == "float64" else 1,
           notes="U < p with U a float uniform (1 word per element; float64: a double, 2 "
                 "words); values 0 or 1 in dtype."),
    Method("exponential", (P("lambd", "Rate.", ">0", default=1.0),), 30,
           lambda t, a, g: t.exponential_(*a, generator=g),
           "torch.empty({n}, dtype=torch.{dtype}).exponential_({args}, generator=g)",
           notes="-1/lambd * log1p(-U), U a double: 2 words per element."),
    Method("geometric", (P("p", "Success probability.", "(0,1)", example=0.2),), 30,
           lambda t, a, g: t.geometric_(*a, generator=g),
           "torch.empty({n}, dtype=torch.{dtype}).geometric_({args}, generator=g)",
           notes="ceil(log(U) / log1p(-p)), U a double: 2 words per element."),
    Method("log_normal", (P("mean", "Mean of the underlying normal.", default=1.0),
                          P("std", "Standard deviation of the underlying normal.", ">0",
                            default=2.0)), 60,
           lambda t, a, g: t.log_normal_(*a, generator=g),
           "torch.empty({n}, dtype=torch.{dtype}).log_normal_({args}, generator=g)",
           block=2,
           notes="exp of a Box-Muller normal; values come in pairs from two doubles (4 "
                 "words), the partner cached in the generator: entered at even offsets."),
    Method("cauchy", (P("median", "Location.", default=0.0),
                      P("sigma", "Scale.", ">0", default=1.0)), 40,
           lambda t, a, g: t.cauchy_(*a, generator=g),
           "torch.empty({n}, dtype=torch.{dtype}).cauchy_({args}, generator=g)",
           notes="median + sigma*tan(pi*(U - 0.5)), U a double clipped to [eps, 1-eps]: 2 "
                 "words per element."),
    Method("random", (), 10,
           lambda t, a, g: t.random_(generator=g),
           "torch.empty({n}, dtype=torch.{dtype}).random_(generator=g)",
           units=lambda p, dt: 2 if dt.name in ("int64", "float64") else 1,
           dtypes=RANDOM_DTYPES,
           notes="random_() with no bounds: a word (64-bit dtypes: two) modulo the dtype's "
                 "max + 1 (floats: 2**mantissa + 1)."),
)


def _check_bernoulli_p(ps: tuple[P, ...], p: Params, dt: DType) -> None:
    """torch checks the tensor ``torch.full`` made, so p as rounded to dtype: -1e-300 is
    -0.0 in float32 (accepted), 1 + 1e-9 is 1.0 in float32 (accepted), 1e300 is inf."""
    raw = float(p["p"])
    try:
        rounded = torch.full((1,), raw, dtype=_tdtype(dt)).item() if math.isfinite(raw) else raw
    except RuntimeError as e:  # torch.full itself refuses (overflow)
        raise InvalidParameter("p", f"torch refuses it: {e}") from None
    try:
        check_all(ps, {"p": rounded})
    except InvalidParameter:
        raise InvalidParameter("p", f"must be in [0, 1] once torch.full rounds it to "
                                    f"{dt.name}, got {raw!r} (rounded: {rounded!r})") from None


def _build(m: Method) -> Distribution[Any]:
    ps = m.params
    names = [q.name for q in ps]

    def args(p: Params) -> list[float]:
        return [float(p[q.name]) for q in ps]

    def draw(g: torch.Generator, p: Params, dt: DType, n: int) -> Array:
        return to_numpy(m.apply(torch.empty(n, dtype=_tdtype(dt)), args(p), g))

    def call(p: Params, dt: DType, n: int | str) -> str:
        return m.source.format(n=n, dtype=dt.name, args=", ".join(map(repr, args(p))))

    def check(p: Params, dt: DType) -> None:
        if m.name == "bernoulli":  # torch checks p only on a non-empty tensor: done here
            _check_bernoulli_p(ps, p, dt)
            return
        check_all(ps, p)
        try:  # torch's own checks run on an empty tensor and draw nothing
            m.apply(torch.empty(0, dtype=_tdtype(dt)), args(p), _SCRATCH)
        except (RuntimeError, ValueError, OverflowError) as e:
            first = str(e).splitlines()[0]
            raise InvalidParameter(named_in(first, names),
                                   f"torch refuses it: {first}") from None

    floats = all(d in FLOATS for d in m.dtypes)
    refused = {d: f"{m.name} is served for {', '.join(m.dtypes)}"
               for d in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                         "uint64", *FLOATS) if d not in m.dtypes}
    if m.name == "random":
        refused.update(dict.fromkeys(("uint16", "uint32", "uint64"),
                                     "torch 2.13 has no CPU random_ for this dtype"))
    notes = f"{m.notes} {NONFINITE_NOTE}" if floats and m.name != "bernoulli" else m.notes
    return distribution(
        name=m.name, params=[q.param() for q in ps], dtypes=m.dtypes, draw=draw, call=call,
        check=check, cost_ns=m.cost_ns, units=m.units, access="direct", notes=notes,
        refused_dtypes=refused, block=m.block)


def distributions() -> dict[str, Distribution[Any]]:
    return {m.name: _build(m) for m in METHODS}
