"""Python's ``random`` samplers by their own names: ``[r.<method>(...) for _ in range(n)]``.

Words per element (CPython 3.11 ``Lib/random.py``): ``random()`` takes two 32-bit words.
``random``, ``expovariate``, ``triangular``, ``paretovariate`` and ``weibullvariate``
call it exactly once per value, so an offset is reached by a jump; ``gauss`` makes values
in pairs from two ``random()`` calls (the partner waits in the state), so it is entered at
even offsets (block 2) and jumps too. The others loop (Kinderman-Monahan normals,
Cheng's and GS gammas, Best-Fisher von Mises) and are checkpointed.

Python checks almost nothing: where a call raises on some draws (``OverflowError`` from
``**`` or ``exp``) the service refuses the parameters that make it possible, so a stream
never stops half way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.methods.build import NONFINITE_NOTE, distribution
from app.core.methods.domain import P, check_all
from app.core.spec import Array, Distribution, Params

Rnd = random.Random
LOG_MAX = math.log(np.finfo(np.float64).max)
NORMALVARIATE_MAX_Z = 12.13
"""|z| of random.normalvariate never exceeds 2*sqrt(-log(2**-53)) = 12.12: its
acceptance test is z*z/4 <= -log(u2), u2 = 1 - random() >= 2**-53."""
PARETO_MIN_ALPHA = 0.052
"""u ** (-1/alpha) with u >= 2**-53 overflows (OverflowError) when 53/alpha >= 1024."""
WEIBULL_MIN_BETA = 0.0051
"""(-log u) ** (1/beta) with -log u <= 36.74 overflows when log(36.74)/beta > 709.78."""


def _none(p: Params) -> int | None:
    return None


def _one_random(p: Params) -> int | None:
    return 2


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[P, ...]
    cost_ns: float
    units: Callable[[Params], int | None] = _none
    access: str = "checkpointed"
    extra: Callable[[Params], None] | None = None
    notes: str = ""
    block: int = 1


def _check_lognorm(p: Params) -> None:
    top = p["mu"] + NORMALVARIATE_MAX_Z * abs(p["sigma"])
    if top > LOG_MAX:
        raise InvalidParameter(
            "sigma", f"mu + {NORMALVARIATE_MAX_Z}*|sigma| must be <= {LOG_MAX:.6f}: above, "
                     "math.exp in lognormvariate can raise OverflowError on a draw")


def _check_pareto(p: Params) -> None:
    alpha = p["alpha"]
    if 0 < alpha < PARETO_MIN_ALPHA:
        raise InvalidParameter(
            "alpha", f"must be >= {PARETO_MIN_ALPHA} (or negative): below, u ** (-1/alpha) "
                     "raises OverflowError on some draws")


METHODS: tuple[Method, ...] = (
    Method("random", (), 150, _one_random, "direct", notes="[0, 1): 2 words per element."),
    Method("expovariate", (P("lambd", "Rate 1/mean.", "!=0", example=1.5),), 250,
           _one_random, "direct", notes="-log(1 - random()) / lambd: 2 words per element."),
    Method("gammavariate", (P("alpha", "Shape.", ">0", example=2.5),
                            P("beta", "Scale.", ">0", example=1.5)), 1500,
           units=lambda p: 2 if p["alpha"] == 1 else None,
           access="direct when alpha == 1 (an exponential), else checkpointed",
           notes="Cheng (alpha > 1) or GS (alpha < 1) rejection."),
    Method("betavariate", (P("alpha", "Alpha.", ">0", example=0.5),
                           P("beta", "Beta.", ">0", example=2.0)), 3000,
           notes="Two gammavariate calls (the second only when the first is nonzero). "
                 "beta > 0 is required here although Python checks it only in that second "
                 "call (with a tiny alpha the first is 0.0 for many draws): a stream that "
                 "would raise part way cannot be served."),
    Method("triangular", (P("low", "Lower limit.", default=0.0),
                          P("high", "Upper limit.", default=1.0),
                          P("mode", "Peak; left out: the midpoint (c = 0.5, which can "
                                    "differ in the last bit from mode=(low+high)/2).",
                            optional=True)),
           300, _one_random, "direct", notes="2 words per element."),
    Method("vonmisesvariate", (P("mu", "Mean angle (radians).", example=0.0),
                               P("kappa", "Concentration.", example=4.0)), 1500,
           units=lambda p: 2 if p["kappa"] <= 1e-6 else None,
           access="direct when kappa <= 1e-6 (a uniform angle), else checkpointed"),
    Method("paretovariate", (P("alpha", "Shape.", "!=0", example=3.0),), 250, _one_random,
           "direct", extra=_check_pareto,
           notes=f"(1 - random()) ** (-1/alpha): 2 words per element. alpha >= "
                 f"{PARETO_MIN_ALPHA} or negative (smaller positive alpha overflows)."),
    Method("weibullvariate", (P("alpha", "Scale.", example=1.0),
                              P("beta", "Shape.", ">0", example=1.5, low=WEIBULL_MIN_BETA)),
           300, _one_random, "direct",
           notes=f"alpha * (-log(1 - random())) ** (1/beta): 2 words per element. beta >= "
                 f"{WEIBULL_MIN_BETA}: smaller (or negative) beta raises OverflowError or "
                 "ZeroDivisionError on some draws."),
    Method("lognormvariate", (P("mu", "Mean of the underlying normal.", example=0.0),
                              P("sigma", "Standard deviation of the underlying normal.",
                                example=1.0)), 900, extra=_check_lognorm,
           notes="exp(normalvariate(mu, sigma)); mu + 12.13*|sigma| <= log(max float) so "
                 "that exp cannot overflow (Python raises OverflowError)."),
    Method("normalvariate", (P("mu", "Mean.", default=0.0),
                             P("sigma", "Standard deviation.", default=1.0)), 800,
           notes="Kinderman-Monahan ratio of uniforms (rejection)."),
    Method("gauss", (P("mu", "Mean.", default=0.0),
                     P("sigma", "Standard deviation.", default=1.0)), 600,
           _one_random, "direct (entered at even offsets)", block=2,
           notes="Box-Muller: a pair of values from two random() calls, the second kept in "
                 "the state; the stream is entered at even offsets, 4 words per pair."),
)


def _build(m: Method) -> Distribution[Any]:
    ps = m.params

    def draw(r: Rnd, p: Params, dt: DType, n: int) -> Array:
        f = getattr(r, m.name)
        args = [float(p[q.name]) for q in ps if q.name in p]
        return np.array([f(*args) for _ in range(n)], dtype=np.float64)

    def call(p: Params, dt: DType, n: int | str) -> str:
        args = ", ".join(repr(float(p[q.name])) for q in ps if q.name in p)
        return f"[r.{m.name}({args}) for _ in range({n})]"

    def check(p: Params, dt: DType) -> None:
        check_all(ps, p)
        if m.extra is not None:
            m.extra(p)

    return distribution(
        name=m.name, params=[q.param() for q in ps], dtypes=("float64",), draw=draw,
        call=call, check=check, cost_ns=m.cost_ns, units=lambda p, dt: m.units(p),
        access=m.access, notes=f"{m.notes} {NONFINITE_NOTE}".strip(), block=m.block,
        refused_dtypes={"float32": "random.Random makes Python floats (float64) only"})


def distributions() -> dict[str, Distribution[Any]]:
    return {m.name: _build(m) for m in METHODS}
