"""numpy's univariate samplers with scalar parameters, by numpy's own names.

One table describes every method for both ``np.random.Generator`` (the numpy-pcg64, ...
engines) and the legacy ``np.random.RandomState`` (numpy-legacy), whose samplers differ
(``legacy-distributions.c``: polar Box-Muller normals, inversion exponentials, ...).

Words per element (numpy/random/src/distributions/distributions.c and
legacy/legacy-distributions.c, numpy 2.4.6): a double is one 64-bit draw of a Generator's
bit generator (2 units of 32 bits) and two 32-bit words of RandomState's MT19937 (also 2
units). Only methods that take exactly one double per element, for every value, are
reached by a jump (``units``); everything with a rejection loop, a ziggurat or a sampler
called inside another (gamma in beta, normal in lognormal, ...) takes a variable number of
words and is checkpointed. laplace, gumbel and logistic redraw when the double is exactly
0 (or 1), with probability 2**-53: variable too, so checkpointed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.dtypes import DType
from app.core.errors import InvalidParameter
from app.core.methods.build import NONFINITE_NOTE, distribution
from app.core.methods.domain import P, check_all, named_in
from app.core.spec import Array, Distribution, Params

INT64_MAX = 2**63 - 1
POISSON_LAM_MAX = float(np.float64(INT64_MAX) - np.sqrt(INT64_MAX) * 10)
"""numpy's ``POISSON_LAM_MAX`` (``_common.pyx``); the legacy one is the same on LP64."""
HYPERGEOM_MAX = 10**9
"""Generator.hypergeometric: ngood and nbad must be below it."""
Units = Callable[[Params], int | None]


def _variable(p: Params) -> int | None:
    return None


def _one_double(p: Params) -> int | None:
    return 2


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[P, ...]
    cost_ns: float
    """Generator; ``legacy_cost_ns`` for RandomState (measured medians, with a margin)."""
    legacy_cost_ns: float
    ints: bool = False
    """Values are int64 (numpy's discrete samplers)."""
    float32: bool = False
    """Generator takes ``dtype=np.float32``."""
    units: Units = _variable
    legacy_units: Units = _variable
    access: str = "checkpointed"
    legacy_access: str = "checkpointed"
    extra: Callable[[Params, bool], None] | None = None
    """Checks across parameters, (params, legacy)."""
    legacy_params: tuple[P, ...] | None = None
    """RandomState's domains where they differ from Generator's."""
    notes: str = ""
    legacy_notes: str = ""
    legacy: bool = True
    """RandomState has the method too."""
    float32_units: Units = field(default=_variable)


def _loc(default: float = 0.0) -> P:
    return P("loc", "Location.", default=default)


def _scale(default: float | None = 1.0, example: float | None = None) -> P:
    return P("scale", "Scale.", ">=0", default=default, example=example)


def _check_triangular(p: Params, legacy: bool) -> None:
    left, mode, right = p["left"], p["mode"], p["right"]
    if left > mode:
        raise InvalidParameter("mode", f"must be >= left (left={left!r}, mode={mode!r})")
    if mode > right:
        raise InvalidParameter("mode", f"must be <= right (mode={mode!r}, right={right!r})")
    if left == right:
        raise InvalidParameter("right", f"must be greater than left (both {left!r})")


def _check_hypergeometric(p: Params, legacy: bool) -> None:
    ngood, nbad, nsample = int(p["ngood"]), int(p["nbad"]), int(p["nsample"])
    if not legacy:
        for name, value in (("ngood", ngood), ("nbad", nbad)):
            if value >= HYPERGEOM_MAX:
                raise InvalidParameter(name, f"must be less than {HYPERGEOM_MAX} "
                                             f"(Generator.hypergeometric), got {value}")
    if ngood + nbad < nsample:
        raise InvalidParameter("nsample", f"must be <= ngood + nbad ({ngood + nbad}), "
                                          f"got {nsample}")


def _check_negative_binomial(p: Params, legacy: bool) -> None:
    if legacy:
        return
    n, prob = p["n"], p["p"]
    if (1 - prob) / prob * (n + 10 * np.sqrt(n)) > POISSON_LAM_MAX:
        raise InvalidParameter("p", "n too large or p too small: the Poisson rate "
                                    "(1-p)/p*(n+10*sqrt(n)) exceeds numpy's limit "
                                    f"{POISSON_LAM_MAX!r} (Generator.negative_binomial)")


METHODS: tuple[Method, ...] = (
    Method("random", (), 10, 15, float32=True, units=_one_double, legacy_units=_one_double,
           float32_units=lambda p: 1, access="direct", legacy_access="direct",
           notes="[0, 1): one 64-bit draw per float64 (53 bits); float32 takes a 32-bit half.",
           legacy_notes="random_sample: 2 words per element (53 bits)."),
    Method("beta", (P("a", "Alpha.", ">0", example=0.5), P("b", "Beta.", ">0", example=2.0)),
           600, 600, notes="Johnk's algorithm when a, b <= 1, else two gammas."),
    Method("binomial", (P("n", "Number of trials.", ">=0", example=10, kind="int",
                          high=INT64_MAX),
                        P("p", "Success probability.", "[0,1]", example=0.3)),
           250, 250, ints=True,
           units=lambda p: 0 if p["n"] == 0 or p["p"] == 0 else None,
           access="checkpointed (direct when n == 0 or p == 0: no draws)",
           notes="Inversion when n*min(p,1-p) <= 30, else BTPE (rejection)."),
    Method("chisquare", (P("df", "Degrees of freedom.", ">0", example=3.0),), 200, 250),
    Method("exponential", (_scale(),), 80, 40, legacy_units=_one_double,
           legacy_access="direct",
           notes="Ziggurat (rejection).",
           legacy_notes="-log(1 - U): 2 words per element."),
    Method("f", (P("dfnum", "Numerator degrees of freedom.", ">0", example=3.0),
                 P("dfden", "Denominator degrees of freedom.", ">0", example=5.0)), 400, 600),
    Method("gamma", (P("shape", "Shape k.", ">=0", example=2.5), _scale()), 150, 300,
           notes="Marsaglia-Tsang (rejection)."),
    Method("geometric", (P("p", "Success probability.", "(0,1]", example=0.2),), 80, 40,
           ints=True, units=lambda p: 2 if p["p"] >= 1 / 3 else None,
           legacy_units=_one_double,
           access="direct when p >= 1/3 (search: one double), else checkpointed (inversion "
                  "of a ziggurat exponential)",
           legacy_access="direct",
           legacy_notes="One double per element (search for p >= 1/3, else inversion)."),
    Method("gumbel", (_loc(), _scale()), 100, 100, notes="Redraws U == 1 (probability "
                                                           "2**-53): checkpointed."),
    Method("hypergeometric", (P("ngood", "Good items.", ">=0", example=50, kind="int",
                                high=INT64_MAX),
                              P("nbad", "Bad items.", ">=0", example=30, kind="int",
                                high=INT64_MAX),
                              P("nsample", "Items drawn.", ">=0", example=20, kind="int",
                                high=INT64_MAX)),
           600, 1500, ints=True, extra=_check_hypergeometric,
           legacy_params=(P("ngood", "Good items.", ">=0", example=50, kind="int",
                            high=INT64_MAX),
                          P("nbad", "Bad items.", ">=0", example=30, kind="int",
                            high=INT64_MAX),
                          P("nsample", "Items drawn.", ">=1", example=20, kind="int",
                            high=INT64_MAX)),
           notes="ngood, nbad < 10**9; ratio-of-uniforms (HRUA) or a draw-by-draw sampler "
                 "for samples within 10 of the ends."),
    Method("laplace", (_loc(), _scale()), 80, 200,
           notes="Redraws U == 0 (probability 2**-53): checkpointed."),
    Method("logistic", (_loc(), _scale()), 150, 200,
           notes="Redraws U == 0 (probability 2**-53): checkpointed."),
    Method("lognormal", (P("mean", "Mean of the underlying normal.", default=0.0),
                         P("sigma", "Standard deviation of the underlying normal.", ">=0",
                           default=1.0)), 120, 350),
    Method("logseries", (P("p", "Shape.", "[0,1)", example=0.9),), 450, 250, ints=True),
    Method("negative_binomial", (P("n", "Number of successes.", ">0", example=3.0),
                                 P("p", "Success probability.", "(0,1]", example=0.4)),
           450, 600, ints=True, extra=_check_negative_binomial,
           legacy_params=(P("n", "Number of successes.", ">0", example=3.0),
                          P("p", "Success probability.", "[0,1]", example=0.4)),
           notes="A Poisson of a gamma."),
    Method("noncentral_chisquare", (P("df", "Degrees of freedom.", ">0", example=3.0),
                                    P("nonc", "Non-centrality.", ">=0", example=2.0)),
           300, 300),
    Method("noncentral_f", (P("dfnum", "Numerator degrees of freedom.", ">0", example=3.0),
                            P("dfden", "Denominator degrees of freedom.", ">0", example=5.0),
                            P("nonc", "Non-centrality.", ">=0", example=2.0)), 400, 400),
    Method("pareto", (P("a", "Shape.", ">0", example=3.0),), 80, 120,
           legacy_units=_one_double, legacy_access="direct",
           legacy_notes="exp(E/a) - 1 with E = -log(1 - U): 2 words per element."),
    Method("poisson", (P("lam", "Expected number of events.", ">=0", default=1.0,
                         high=POISSON_LAM_MAX),), 150, 200, ints=True,
           units=lambda p: 0 if p["lam"] == 0 else None,
           access="checkpointed (direct when lam == 0: no draws)",
           notes="Multiplication for lam < 10, else PTRS (rejection)."),
    Method("power", (P("a", "Exponent.", ">0", example=3.0),), 120, 300,
           legacy_units=_one_double, legacy_access="direct",
           legacy_notes="One double per element."),
    Method("rayleigh", (_scale(),), 60, 150, legacy_units=_one_double,
           legacy_access="direct", notes="From a ziggurat exponential.",
           legacy_notes="sqrt(-2 log(1 - U)): 2 words per element."),
    Method("standard_cauchy", (), 80, 350),
    Method("standard_exponential", (), 30, 40, float32=True, legacy_units=_one_double,
           legacy_access="direct", notes="Ziggurat (rejection); method='zig'.",
           legacy_notes="-log(1 - U): 2 words per element."),
    Method("standard_gamma", (P("shape", "Shape k.", ">=0", example=2.5),), 100, 400,
           float32=True),
    Method("standard_normal", (), 40, 50, float32=True,
           notes="Ziggurat (rejection).",
           legacy_notes="Polar Box-Muller; the second value of a pair is in the state."),
    Method("standard_t", (P("df", "Degrees of freedom.", ">0", example=5.0),), 200, 300),
    Method("triangular", (P("left", "Lower limit.", example=0.0),
                          P("mode", "Peak (left <= mode <= right).", example=0.3),
                          P("right", "Upper limit (> left).", example=1.0)),
           40, 40, units=_one_double, legacy_units=_one_double, access="direct",
           legacy_access="direct", extra=_check_triangular,
           notes="Inversion: one double per element."),
    Method("vonmises", (P("mu", "Mode (radians).", example=0.0),
                        P("kappa", "Concentration.", ">=0", example=4.0)), 600, 600,
           units=lambda p: 2 if p["kappa"] < 1e-8 else None,
           legacy_units=lambda p: 2 if p["kappa"] < 1e-8 else None,
           access="direct when kappa < 1e-8 (a uniform), else checkpointed",
           legacy_access="direct when kappa < 1e-8 (a uniform), else checkpointed",
           legacy_params=(P("mu", "Mode (radians).", example=0.0),
                          P("kappa", "Concentration.", ">=0", example=4.0, high=1e15),),
           legacy_notes="kappa <= 1e15: above ~2e16 RandomState.vonmises never accepts a "
                        "draw (its rejection loop does not terminate)."),
    Method("wald", (P("mean", "Mean.", ">0", example=1.0),
                    P("scale", "Scale.", ">0", example=2.0)), 150, 250),
    Method("weibull", (P("a", "Shape.", ">=0", example=1.5),), 150, 150,
           units=lambda p: 0 if p["a"] == 0 else None,
           legacy_units=lambda p: 0 if p["a"] == 0 else 2,
           access="checkpointed (direct when a == 0: no draws)", legacy_access="direct",
           legacy_notes="E**(1/a) with E = -log(1 - U): 2 words per element (none if a == 0)."),
    Method("zipf", (P("a", "Exponent.", ">1", example=2.0),), 400, 400, ints=True,
           units=lambda p: 0 if p["a"] >= 1025 else None,
           access="checkpointed (direct when a >= 1025: no draws)",
           legacy_params=(P("a", "Exponent.", ">1", example=2.0, low=1.01),),
           legacy_notes="a >= 1.01: RandomState.zipf rejects every value above 2**63 and "
                        "needs about 1/(44*(a-1)) attempts per value (a=1.001: ~7 us per "
                        "value, a=1+1e-15 never ends)."),
)
BY_NAME = {m.name: m for m in METHODS}


def _kwargs(ps: tuple[P, ...], p: Params) -> dict[str, Any]:
    return {q.name: (int(p[q.name]) if q.kind == "int" else float(p[q.name])) for q in ps}


def _source(ps: tuple[P, ...], p: Params) -> str:
    return "".join(f"{k}={v!r}, " for k, v in _kwargs(ps, p).items())


def _build(m: Method, legacy: bool) -> Distribution[Any]:
    ps = (m.legacy_params or m.params) if legacy else m.params
    names = [q.name for q in ps]
    var = "rs" if legacy else "rng"
    lib = "RandomState" if legacy else "Generator"
    float32 = m.float32 and not legacy
    scratch: Any = np.random.RandomState(0) if legacy else np.random.Generator(np.random.PCG64(0))
    method_units = m.legacy_units if legacy else m.units

    def draw(gen: Any, p: Params, dt: DType, n: int) -> Array:
        kw = _kwargs(ps, p)
        if dt.name == "float32":
            kw["dtype"] = np.float32
        out: Array = getattr(gen, m.name)(**kw, size=n)
        return out

    def call(p: Params, dt: DType, n: int | str) -> str:
        tail = ", dtype=np.float32" if dt.name == "float32" else ""
        return f"{var}.{m.name}({_source(ps, p)}size={n}{tail})"

    def check(p: Params, dt: DType) -> None:
        check_all(ps, p)
        if m.extra is not None:
            m.extra(p, legacy)
        kw = _kwargs(ps, p)
        if dt.name == "float32":
            kw["dtype"] = np.float32
        try:  # the library's own validation: size=0 checks every constraint, draws nothing
            getattr(scratch, m.name)(**kw, size=0)
        except (ValueError, OverflowError, TypeError) as e:
            raise InvalidParameter(named_in(str(e), names),
                                   f"numpy {lib}.{m.name} refuses it: {e}") from None

    def units(p: Params, dt: DType) -> int | None:
        if dt.name == "float32":
            return m.float32_units(p)
        return method_units(p)

    dtypes = ("int64",) if m.ints else (("float64", "float32") if float32 else ("float64",))
    if m.ints:
        refused = dict.fromkeys(("int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64"),
                                f"numpy's {m.name} returns int64")
    elif not float32:
        refused = {"float32": f"numpy {lib}.{m.name} has no dtype argument: float64 only"}
    else:
        refused = {}
    notes = (m.legacy_notes if legacy and m.legacy_notes else m.notes)
    if not m.ints:
        notes = f"{notes} {NONFINITE_NOTE}".strip()
    return distribution(
        name=m.name, params=[q.param() for q in ps], dtypes=dtypes, draw=draw, call=call,
        check=check, cost_ns=m.legacy_cost_ns if legacy else m.cost_ns, units=units,
        access=m.legacy_access if legacy else m.access, notes=notes, refused_dtypes=refused)


def generator_distributions() -> dict[str, Distribution[Any]]:
    """``rng.<method>(..., size=n)`` for a ``np.random.Generator``."""
    return {m.name: _build(m, legacy=False) for m in METHODS}


def legacy_distributions() -> dict[str, Distribution[Any]]:
    """``rs.<method>(..., size=n)`` for a ``np.random.RandomState``."""
    return {m.name: _build(m, legacy=True) for m in METHODS if m.legacy}
