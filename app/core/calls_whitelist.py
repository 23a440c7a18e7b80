"""The functions ``POST /v1/calls`` replays, per engine, with their typed parameters.

This table is the whole of what a call program can do: a request names a function of its
engine's table and gives arguments that ``calls_args`` parses by the declared kinds. Each
entry holds the library function itself (taken here, in source, never looked up by a name
from a request) and how many elements a call makes, which bounds a program's work.

Parameter names, order and defaults are the library's own (numpy 2.4, Python 3.11's
``random``, torch 2.13). Optional parameters the service does not take (``out=``, ``axis=``,
tensor-valued means) are left out: passing one is a 422 naming it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from app.core.calls_args import INT64_MAX, P, size_elements
from app.core.torch_dtypes import FLOATS
from app.core.torch_dtypes import TORCH_DTYPES as TORCH_CPU_DTYPES

G = TypeVar("G")
Values = Mapping[str, Any]
RS = np.random.RandomState
Gen = np.random.Generator
Rnd = random.Random


@dataclass(frozen=True)
class Fn(Generic[G]):
    """One whitelisted function: its parameters and how it is called on a generator."""

    name: str
    params: tuple[P, ...]
    invoke: Callable[[G, tuple[Any, ...], dict[str, Any]], Any]
    """Call the library on generator G with materialized positional and keyword arguments."""
    elements: Callable[[Values], int]
    """Elements the call makes (and list entries it reads), from its arguments."""
    varargs: bool = False
    """The first parameter is ``*size``: one integer per dimension."""
    overloads: tuple[tuple[str, ...], ...] = ()
    """Alternative positional forms, tried in order (torch.randint)."""
    returns: str | None = None
    """The function shuffles this list argument in place and returns None: the result is
    the list afterwards."""
    result_dtype: str | None = None
    """The dtype of a Python scalar result, when not int64 / float64."""
    weight: int = 1
    """Work per element, relative to a vectorised numpy draw (Python-level loops, slow
    rejection samplers cost more)."""
    doc: str = ""


@dataclass(frozen=True)
class CallEngine(Generic[G]):
    """How an engine replays programs: its generator, the reference's setup, its functions."""

    name: str
    seed_max: int
    new: Callable[[int], G]
    setup: str
    """The program's first lines; ``{seed}`` is replaced."""
    prefix: str
    """How a call is written in the program: ``np.random.``, ``rng.``, ``random.``, ``torch.``."""
    functions: Mapping[str, Fn[G]] = field(default_factory=dict)
    doc: str = ""


def _sized(*lists: str, per: str | None = None) -> Callable[[Values], int]:
    """Elements of numpy's size= (times the length of ``per``), plus the lists read."""
    def count(v: Values) -> int:
        n = size_elements(v.get("size"))
        if per is not None:
            n *= max(len(v[per]), 1)
        return n + sum(len(v[name]) if isinstance(v[name], list) else 0 for name in lists)
    return count


def _of(name: str) -> Callable[[Values], int]:
    return lambda v: size_elements(v[name])


def _len(name: str) -> Callable[[Values], int]:
    return lambda v: v[name] if isinstance(v[name], int) else len(v[name])


def _one(v: Values) -> int:
    return 1


SIZE = P("size", "size", None, doc="numpy size: null (one value), n, or a shape")
INTS = ("int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8")
NP_INTS = {n: np.dtype(n) for n in INTS}
NP_FLOATS = {n: np.dtype(n) for n in ("float64", "float32")}
TORCH_DTYPES = {n: TORCH_CPU_DTYPES[n] for n in (*FLOATS, *INTS)}
TORCH_FLOATS = {n: TORCH_DTYPES[n] for n in FLOATS}


def f(name: str, **kw: Any) -> P:
    """A required float parameter."""
    return P(name, "float", **kw)


def fd(name: str, default: float, **kw: Any) -> P:
    """A float parameter with a default."""
    return P(name, "float", default, **kw)


def i(name: str, **kw: Any) -> P:
    return P(name, "int", **kw)


POS = {"min": 0.0, "exclusive_min": True}
NONNEG = {"min": 0.0}
PROB = {"min": 0.0, "max": 1.0}


def _numpy_distributions() -> list[tuple[str, tuple[P, ...], Any, Any]]:
    """The scalar-parameter samplers RandomState and Generator share: (name, params, the
    RandomState method, the Generator method)."""
    return [
        ("beta", (f("a", **POS), f("b", **POS)), RS.beta, Gen.beta),
        ("binomial", (i("n", min=0), f("p", **PROB)), RS.binomial, Gen.binomial),
        ("chisquare", (f("df", **POS),), RS.chisquare, Gen.chisquare),
        ("exponential", (fd("scale", 1.0, **NONNEG),), RS.exponential, Gen.exponential),
        ("f", (f("dfnum", **POS), f("dfden", **POS)), RS.f, Gen.f),
        ("gamma", (f("shape", **NONNEG), fd("scale", 1.0, **NONNEG)), RS.gamma, Gen.gamma),
        ("geometric", (f("p", min=0.0, max=1.0, exclusive_min=True),), RS.geometric,
         Gen.geometric),
        ("gumbel", (fd("loc", 0.0), fd("scale", 1.0, **NONNEG)), RS.gumbel, Gen.gumbel),
        ("hypergeometric", (i("ngood", min=0), i("nbad", min=0), i("nsample", min=0)),
         RS.hypergeometric, Gen.hypergeometric),
        ("laplace", (fd("loc", 0.0), fd("scale", 1.0, **NONNEG)), RS.laplace, Gen.laplace),
        ("logistic", (fd("loc", 0.0), fd("scale", 1.0, **NONNEG)), RS.logistic, Gen.logistic),
        ("lognormal", (fd("mean", 0.0), fd("sigma", 1.0, **NONNEG)), RS.lognormal,
         Gen.lognormal),
        ("logseries", (f("p", min=0.0, max=1.0),), RS.logseries, Gen.logseries),
        ("negative_binomial", (f("n", **POS), f("p", min=0.0, max=1.0, exclusive_min=True)),
         RS.negative_binomial, Gen.negative_binomial),
        ("noncentral_chisquare", (f("df", **POS), f("nonc", **NONNEG)),
         RS.noncentral_chisquare, Gen.noncentral_chisquare),
        ("noncentral_f", (f("dfnum", **POS), f("dfden", **POS), f("nonc", **NONNEG)),
         RS.noncentral_f, Gen.noncentral_f),
        ("normal", (fd("loc", 0.0), fd("scale", 1.0, **NONNEG)), RS.normal, Gen.normal),
        ("pareto", (f("a", **POS),), RS.pareto, Gen.pareto),
        ("poisson", (fd("lam", 1.0, **NONNEG),), RS.poisson, Gen.poisson),
        ("power", (f("a", **POS),), RS.power, Gen.power),
        ("rayleigh", (fd("scale", 1.0, **NONNEG),), RS.rayleigh, Gen.rayleigh),
        ("standard_cauchy", (), RS.standard_cauchy, Gen.standard_cauchy),
        ("standard_t", (f("df", **POS),), RS.standard_t, Gen.standard_t),
        ("triangular", (f("left"), f("mode"), f("right")), RS.triangular, Gen.triangular),
        ("uniform", (fd("low", 0.0), fd("high", 1.0)), RS.uniform, Gen.uniform),
        ("vonmises", (f("mu"), f("kappa", **NONNEG)), RS.vonmises, Gen.vonmises),
        ("wald", (f("mean", **POS), f("scale", **POS)), RS.wald, Gen.wald),
        ("weibull", (f("a", **NONNEG),), RS.weibull, Gen.weibull),
        # a < 1.01 makes numpy's rejection loop run for minutes (acceptance ~ 1 - 2**(-63(a-1))).
        ("zipf", (f("a", min=1.01),), RS.zipf, Gen.zipf),
    ]


def _method(method: Any) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]:
    return lambda gen, args, kwargs: method(gen, *args, **kwargs)


def _np_fn(name: str, method: Any, params: tuple[P, ...],
           elements: Callable[[Values], int] | None = None, **kw: Any) -> Fn[Any]:
    return Fn(name, params, _method(method), elements or _sized(), **kw)


def _legacy() -> dict[str, Fn[RS]]:
    ints = P("dtype", "dtype", "int64", choices=NP_INTS)
    fns = [
        _np_fn("rand", RS.rand, (P("d", "dims"),), _of("d"), varargs=True),
        _np_fn("randn", RS.randn, (P("d", "dims"),), _of("d"), varargs=True),
        _np_fn("random_sample", RS.random_sample, (SIZE,)),
        _np_fn("random", RS.random, (SIZE,)),
        _np_fn("standard_normal", RS.standard_normal, (SIZE,)),
        _np_fn("standard_exponential", RS.standard_exponential, (SIZE,)),
        _np_fn("standard_gamma", RS.standard_gamma, (f("shape", **NONNEG), SIZE)),
        _np_fn("randint", RS.randint, (i("low"), P("high", "int", None, nullable=True),
                                       SIZE, ints)),
        _np_fn("bytes", RS.bytes, (i("length", min=0),), _of("length")),
        _np_fn("choice", RS.choice, (
            P("a", "int_or_numbers"), SIZE, P("replace", "bool", True),
            P("p", "floats", None, nullable=True)), _choice_elements),
        _np_fn("permutation", RS.permutation, (P("x", "int_or_numbers"),), _len("x")),
        _np_fn("shuffle", RS.shuffle, (P("x", "numbers"),), _len("x"), returns="x", weight=10),
        _np_fn("multinomial", RS.multinomial, (i("n", min=0), P("pvals", "floats"), SIZE),
               _sized(per="pvals")),
        _np_fn("dirichlet", RS.dirichlet, (P("alpha", "floats"), SIZE), _sized(per="alpha")),
    ]
    fns += [_np_fn(name, legacy, (*params, SIZE), weight=20 if name == "zipf" else 1)
            for name, params, legacy, _ in _numpy_distributions()]
    return {fn.name: fn for fn in sorted(fns, key=lambda fn: fn.name)}


def _generator() -> dict[str, Fn[Gen]]:
    floats = P("dtype", "dtype", "float64", choices=NP_FLOATS)
    fns = [
        _np_fn("random", Gen.random, (SIZE, floats)),
        _np_fn("standard_normal", Gen.standard_normal, (SIZE, floats)),
        _np_fn("standard_exponential", Gen.standard_exponential, (
            SIZE, floats, P("method", "choice", "zig", choices={"zig": "zig", "inv": "inv"}))),
        _np_fn("standard_gamma", Gen.standard_gamma, (f("shape", **NONNEG), SIZE, floats)),
        _np_fn("integers", Gen.integers, (
            i("low"), P("high", "int", None, nullable=True), SIZE,
            P("dtype", "dtype", "int64", choices=NP_INTS), P("endpoint", "bool", False))),
        _np_fn("bytes", Gen.bytes, (i("length", min=0),), _of("length")),
        _np_fn("choice", Gen.choice, (
            P("a", "int_or_numbers"), SIZE, P("replace", "bool", True),
            P("p", "floats", None, nullable=True), P("shuffle", "bool", True, keyword_only=True)),
            _choice_elements),
        _np_fn("permutation", Gen.permutation, (P("x", "int_or_numbers"),), _len("x")),
        _np_fn("permuted", Gen.permuted, (P("x", "numbers"),), _len("x")),
        _np_fn("shuffle", Gen.shuffle, (P("x", "numbers"),), _len("x"), returns="x",
               weight=10),
        _np_fn("multinomial", Gen.multinomial, (i("n", min=0), P("pvals", "floats"), SIZE),
               _sized(per="pvals")),
        _np_fn("dirichlet", Gen.dirichlet, (P("alpha", "floats"), SIZE), _sized(per="alpha")),
    ]
    fns += [_np_fn(name, gen, (*params, SIZE), weight=20 if name == "zipf" else 1)
            for name, params, _, gen in _numpy_distributions()]
    return {fn.name: fn for fn in sorted(fns, key=lambda fn: fn.name)}


def _choice_elements(v: Values) -> int:
    population = v["a"] if isinstance(v["a"], int) else len(v["a"])
    # Without replacement numpy permutes (or hashes) the whole population.
    work = 0 if v["replace"] else population
    return size_elements(v["size"]) + work + (len(v["p"]) if v["p"] else 0)


def _py(name: str, method: Any, params: tuple[P, ...],
        elements: Callable[[Values], int] = _one, **kw: Any) -> Fn[Rnd]:
    return Fn(name, params, _method(method), elements, weight=10, **kw)


def _python() -> dict[str, Fn[Rnd]]:
    fns = [
        _py("random", Rnd.random, ()),
        _py("uniform", Rnd.uniform, (f("a"), f("b"))),
        _py("triangular", Rnd.triangular, (fd("low", 0.0), fd("high", 1.0),
                                           P("mode", "float", None, nullable=True))),
        _py("randint", Rnd.randint, (i("a"), i("b"))),
        _py("randrange", Rnd.randrange, (i("start"), P("stop", "int", None, nullable=True),
                                         P("step", "int", 1))),
        _py("getrandbits", Rnd.getrandbits, (i("k", min=0, max=64),), result_dtype="uint64"),
        _py("randbytes", Rnd.randbytes, (i("n", min=0),), _of("n")),
        _py("choice", Rnd.choice, (P("seq", "numbers"),), lambda v: 1 + len(v["seq"])),
        _py("choices", Rnd.choices, (
            P("population", "numbers"), P("weights", "floats", None, nullable=True),
            P("cum_weights", "floats", None, nullable=True, keyword_only=True),
            P("k", "int", 1, min=0, keyword_only=True)),
            lambda v: v["k"] + len(v["population"])),
        _py("shuffle", Rnd.shuffle, (P("x", "numbers"),), _len("x"), returns="x"),
        _py("sample", Rnd.sample, (P("population", "numbers"), i("k", min=0)),
            lambda v: v["k"] + len(v["population"])),
        _py("gauss", Rnd.gauss, (fd("mu", 0.0), fd("sigma", 1.0))),
        _py("normalvariate", Rnd.normalvariate, (fd("mu", 0.0), fd("sigma", 1.0))),
        _py("lognormvariate", Rnd.lognormvariate, (f("mu"), f("sigma"))),
        _py("expovariate", Rnd.expovariate, (f("lambd"),)),
        _py("vonmisesvariate", Rnd.vonmisesvariate, (f("mu"), f("kappa", **NONNEG))),
        _py("gammavariate", Rnd.gammavariate, (f("alpha", **POS), f("beta", **POS))),
        _py("betavariate", Rnd.betavariate, (f("alpha", **POS), f("beta", **POS))),
        _py("paretovariate", Rnd.paretovariate, (f("alpha", **POS),)),
        _py("weibullvariate", Rnd.weibullvariate, (f("alpha", **POS), f("beta", **POS))),
    ]
    return {fn.name: fn for fn in sorted(fns, key=lambda fn: fn.name)}


def _torch_fn(name: str, function: Any, params: tuple[P, ...],
              elements: Callable[[Values], int], **kw: Any) -> Fn[torch.Generator]:
    def invoke(g: torch.Generator, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return function(*args, **kwargs, generator=g)
    return Fn(name, params, invoke, elements, **kw)


def _torch() -> dict[str, Fn[torch.Generator]]:
    def dtype(choices: Mapping[str, Any], default: str | None) -> P:
        return P("dtype", "dtype", default, choices=choices, module="torch", nullable=True,
                 keyword_only=True)

    any_dtype = dtype(TORCH_DTYPES, None)
    fns = [
        _torch_fn("rand", torch.rand, (P("size", "shape"), dtype(TORCH_FLOATS, None)),
                  _of("size"), varargs=True),
        _torch_fn("randn", torch.randn, (P("size", "shape"), dtype(TORCH_FLOATS, None)),
                  _of("size"), varargs=True),
        _torch_fn("randint", torch.randint, (
            i("low", default=0), i("high"), P("size", "shape"), any_dtype), _of("size"),
            overloads=(("high", "size"), ("low", "high", "size"))),
        _torch_fn("randperm", torch.randperm, (i("n", min=0), any_dtype), _len("n")),
        _torch_fn("normal", torch.normal, (f("mean"), f("std", **NONNEG), P("size", "shape"),
                                           dtype(TORCH_FLOATS, None)), _of("size")),
        _torch_fn("bernoulli", torch.bernoulli, (P("input", "tensor"),),
                  lambda v: len(v["input"].values)),
        _torch_fn("poisson", torch.poisson, (P("input", "tensor"),),
                  lambda v: len(v["input"].values)),
        _torch_fn("multinomial", torch.multinomial, (
            P("input", "tensor"), i("num_samples", min=0, max=INT64_MAX),
            P("replacement", "bool", False)),
            lambda v: len(v["input"].values) + v["num_samples"]),
    ]
    return {fn.name: fn for fn in sorted(fns, key=lambda fn: fn.name)}


LEGACY = _legacy()
GENERATOR = _generator()
PYTHON = _python()
TORCH = _torch()

_BITGENS: dict[str, type[np.random.BitGenerator]] = {
    "numpy-pcg64": np.random.PCG64, "numpy-pcg64dxsm": np.random.PCG64DXSM,
    "numpy-philox": np.random.Philox, "numpy-sfc64": np.random.SFC64,
    "numpy-mt19937": np.random.MT19937,
}


def _generator_engine(name: str, cls: type[np.random.BitGenerator]) -> CallEngine[Gen]:
    return CallEngine(
        name=name, seed_max=2**128 - 1, new=lambda seed: Gen(cls(seed)),
        setup=f"import numpy as np\nrng = np.random.Generator(np.random.{cls.__name__}({{seed}}))",
        prefix="rng.", functions=GENERATOR,
        doc=f"rng = np.random.Generator(np.random.{cls.__name__}(seed)), then rng.<fn>(...).")


CALL_ENGINES: dict[str, CallEngine[Any]] = {
    "numpy-legacy": CallEngine(
        name="numpy-legacy", seed_max=2**32 - 1, new=RS,
        setup="import numpy as np\nnp.random.seed({seed})", prefix="np.random.",
        functions=LEGACY,
        doc="np.random.seed(seed), then np.random.<fn>(...) (the global RandomState; the "
            "service runs the program on its own RandomState(seed))."),
    **{name: _generator_engine(name, cls) for name, cls in _BITGENS.items()},
    "python-random": CallEngine(
        name="python-random", seed_max=2**64 - 1, new=Rnd,
        setup="import random\nrandom.seed({seed})", prefix="random.", functions=PYTHON,
        doc="random.seed(seed), then random.<fn>(...) (the service runs the program on its "
            "own random.Random(seed))."),
    "torch-cpu": CallEngine(
        name="torch-cpu", seed_max=2**64 - 1,
        new=lambda seed: torch.Generator().manual_seed(seed),
        setup="import torch\ntorch.manual_seed({seed})", prefix="torch.", functions=TORCH,
        doc="torch.manual_seed(seed), then torch.<fn>(...) on the CPU (the service passes "
            "its own torch.Generator().manual_seed(seed) as generator=: every whitelisted "
            "function takes one, so the global generator is never used)."),
}
REFUSED: dict[str, str] = {
    "torch-cuda": "call replay runs on the CPU; CUDA programs need the GPU they ran on "
                  "(its kernels, launch grid and math differ from the CPU's)",
    "jax-threefry": "jax.random is functional: there is no generator whose calls could be "
                    "replayed (each call takes a key, and the same key gives the same values); "
                    "use /v1/streams/jax-threefry/{distribution} for any slice of a call",
}
"""Registered engines without call replay, with the reason."""
