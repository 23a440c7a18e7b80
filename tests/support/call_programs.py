"""Random call programs for POST /v1/calls, and the programs run locally as users run them.

The strategies are written here by hand from the libraries' documentation (not derived from
the service's whitelist), and ``run_locally`` runs the program with the library's own global
functions (``np.random.seed(s); np.random.<fn>(...)``, ``torch.manual_seed(s);
torch.<fn>(...)``, ``random.seed(s); random.<fn>(...)``, ``rng = Generator(BitGen(s));
rng.<fn>(...)``), restoring the global states afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

Call = dict[str, Any]
Draw = Callable[[st.SearchStrategy[Any]], Any]
FAMILY = {"numpy-legacy": "legacy", "numpy-pcg64": "generator", "numpy-pcg64dxsm": "generator",
          "numpy-philox": "generator", "numpy-sfc64": "generator",
          "numpy-mt19937": "generator", "python-random": "python", "torch-cpu": "torch"}
BITGENS = {"numpy-pcg64": np.random.PCG64, "numpy-pcg64dxsm": np.random.PCG64DXSM,
           "numpy-philox": np.random.Philox, "numpy-sfc64": np.random.SFC64,
           "numpy-mt19937": np.random.MT19937}


def fl(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


SIZE = st.none() | st.integers(0, 12) | st.lists(st.integers(0, 4), max_size=3)
SHAPE = st.lists(st.integers(0, 5), max_size=3)
SMALL_INTS = st.lists(st.integers(-50, 50), max_size=12)
SMALL_FLOATS = st.lists(fl(-1e3, 1e3), max_size=12)
PROBS = st.lists(fl(0.0, 1.0), min_size=1, max_size=8).map(
    lambda ps: [p / sum(ps) for p in ps] if sum(ps) > 0 else [1.0 / len(ps)] * len(ps))


@st.composite
def _triangular(draw: Draw) -> list[float]:
    a, b = sorted(draw(st.lists(fl(-10, 10), min_size=2, max_size=2, unique=True)))
    return [a, draw(fl(a, b)), b]


@st.composite
def _hypergeometric(draw: Draw) -> list[int]:
    good, bad = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    return [good, bad, draw(st.integers(1, max(good + bad, 1)))] if good + bad else [1, 1, 1]


# The scalar-parameter samplers of RandomState and Generator: valid parameters.
NUMPY_SAMPLERS: dict[str, st.SearchStrategy[list[Any]]] = {
    "beta": st.tuples(fl(0.1, 10), fl(0.1, 10)).map(list),
    "binomial": st.tuples(st.integers(0, 1000), fl(0, 1)).map(list),
    "chisquare": st.tuples(fl(0.5, 50)).map(list),
    "exponential": st.tuples(fl(0, 5)).map(list),
    "f": st.tuples(fl(0.5, 50), fl(0.5, 50)).map(list),
    "gamma": st.tuples(fl(0.1, 10), fl(0.1, 5)).map(list),
    "geometric": st.tuples(fl(0.01, 1)).map(list),
    "gumbel": st.tuples(fl(-5, 5), fl(0, 5)).map(list),
    "hypergeometric": _hypergeometric(),
    "laplace": st.tuples(fl(-5, 5), fl(0, 5)).map(list),
    "logistic": st.tuples(fl(-5, 5), fl(0, 5)).map(list),
    "lognormal": st.tuples(fl(-2, 2), fl(0, 2)).map(list),
    "logseries": st.tuples(fl(0.01, 0.99)).map(list),
    "negative_binomial": st.tuples(fl(0.1, 50), fl(0.05, 1)).map(list),
    "noncentral_chisquare": st.tuples(fl(0.5, 20), fl(0, 10)).map(list),
    "noncentral_f": st.tuples(fl(0.5, 20), fl(0.5, 20), fl(0, 10)).map(list),
    "normal": st.tuples(fl(-5, 5), fl(0, 5)).map(list),
    "pareto": st.tuples(fl(0.1, 10)).map(list),
    "poisson": st.tuples(fl(0, 100)).map(list),
    "power": st.tuples(fl(0.1, 10)).map(list),
    "rayleigh": st.tuples(fl(0, 5)).map(list),
    "standard_cauchy": st.just([]),
    "standard_t": st.tuples(fl(0.5, 50)).map(list),
    "triangular": _triangular(),
    "uniform": st.tuples(fl(-5, 5), fl(-5, 5)).map(sorted),
    "vonmises": st.tuples(fl(-3, 3), fl(0, 50)).map(list),
    "wald": st.tuples(fl(0.1, 10), fl(0.1, 10)).map(list),
    "weibull": st.tuples(fl(0.1, 10)).map(list),
    "zipf": st.tuples(fl(1.1, 5)).map(list),
}
NAMES = {"beta": ["a", "b"], "binomial": ["n", "p"], "chisquare": ["df"],
         "exponential": ["scale"], "f": ["dfnum", "dfden"], "gamma": ["shape", "scale"],
         "geometric": ["p"], "gumbel": ["loc", "scale"],
         "hypergeometric": ["ngood", "nbad", "nsample"], "laplace": ["loc", "scale"],
         "logistic": ["loc", "scale"], "lognormal": ["mean", "sigma"], "logseries": ["p"],
         "negative_binomial": ["n", "p"], "noncentral_chisquare": ["df", "nonc"],
         "noncentral_f": ["dfnum", "dfden", "nonc"], "normal": ["loc", "scale"],
         "pareto": ["a"], "poisson": ["lam"], "power": ["a"], "rayleigh": ["scale"],
         "standard_cauchy": [], "standard_t": ["df"], "triangular": ["left", "mode", "right"],
         "uniform": ["low", "high"], "vonmises": ["mu", "kappa"], "wald": ["mean", "scale"],
         "weibull": ["a"], "zipf": ["a"]}


def _split(draw: Draw, names: list[str], values: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Pass the first k values positionally, the rest by keyword (as a caller may)."""
    k = draw(st.integers(0, len(values)))
    return values[:k], dict(zip(names[k:], values[k:], strict=True))


def _sampler(draw: Draw, name: str) -> Call:
    values = [*draw(NUMPY_SAMPLERS[name]), draw(SIZE)]
    args, kwargs = _split(draw, [*NAMES[name], "size"], values)
    return {"fn": name, "args": args, "kwargs": kwargs}


def _numpy_common(draw: Draw, fn: str) -> Call | None:
    population = draw(st.integers(1, 30) | st.lists(st.integers(-9, 9), min_size=1,
                                                     max_size=10) | SMALL_FLOATS.filter(bool))
    n = population if isinstance(population, int) else len(population)
    match fn:
        case "bytes":
            return {"fn": fn, "args": [draw(st.integers(0, 40))]}
        case "choice":
            size = draw(st.integers(0, n) | st.none())
            p = draw(st.none() | st.just(None).map(lambda _: [1.0 / n] * n))
            return {"fn": fn, "args": [population, size],
                    "kwargs": {"replace": draw(st.booleans()), "p": p}}
        case "permutation":
            return {"fn": fn, "args": [population]}
        case "shuffle":
            return {"fn": fn, "args": [draw(SMALL_INTS | SMALL_FLOATS)]}
        case "multinomial":
            return {"fn": fn, "args": [draw(st.integers(0, 100)), draw(PROBS), draw(SIZE)]}
        case "dirichlet":
            return {"fn": fn, "args": [draw(st.lists(fl(0.2, 5), min_size=1, max_size=5)),
                                       draw(SIZE)]}
        case "standard_gamma":
            return {"fn": fn, "args": [draw(fl(0.1, 10)), draw(SIZE)]}
    if fn in NUMPY_SAMPLERS:
        return _sampler(draw, fn)
    return None


INT_DTYPES = ["int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8"]


@st.composite
def _int_bounds(draw: Draw, dtype: str) -> tuple[int, int]:
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -(2**63)), min(int(info.max), 2**63 - 1)  # int64 arguments
    low = draw(st.integers(lo, hi - 1) | st.integers(lo, min(lo + 20, hi - 1)))
    return low, draw(st.integers(low + 1, hi) | st.integers(low + 1, min(low + 300, hi)))


def legacy_call(draw: Draw, fn: str) -> Call:
    match fn:
        case "rand" | "randn":
            return {"fn": fn, "args": draw(st.lists(st.integers(0, 4), max_size=3))}
        case "random_sample" | "random" | "standard_normal" | "standard_exponential":
            return {"fn": fn, "args": [draw(SIZE)]}
        case "randint":
            dtype = draw(st.sampled_from(INT_DTYPES))
            low, high = draw(_int_bounds(dtype))
            return {"fn": fn, "args": [low, high, draw(SIZE)], "kwargs": {"dtype": dtype}}
    call = _numpy_common(draw, fn)
    assert call is not None, fn
    return call


def generator_call(draw: Draw, fn: str) -> Call:
    match fn:
        case "random" | "standard_normal":
            return {"fn": fn, "args": [draw(SIZE)],
                    "kwargs": {"dtype": draw(st.sampled_from(["float64", "float32"]))}}
        case "standard_exponential":
            return {"fn": fn, "args": [draw(SIZE), draw(st.sampled_from(["float64",
                                                                          "float32"]))],
                    "kwargs": {"method": draw(st.sampled_from(["zig", "inv"]))}}
        case "integers":
            dtype = draw(st.sampled_from(INT_DTYPES))
            low, high = draw(_int_bounds(dtype))
            return {"fn": fn, "args": [low, high, draw(SIZE)],
                    "kwargs": {"dtype": dtype, "endpoint": draw(st.booleans())}}
        case "permuted":
            return {"fn": fn, "args": [draw(SMALL_INTS | SMALL_FLOATS)]}
        case "choice":
            call = _numpy_common(draw, fn)
            assert call is not None
            call["kwargs"]["shuffle"] = draw(st.booleans())
            return call
    call = _numpy_common(draw, fn)
    assert call is not None, fn
    return call


def python_call(draw: Draw, fn: str) -> Call:
    population = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=1, max_size=10)
                      | SMALL_FLOATS.filter(bool))
    a, b = sorted(draw(st.lists(st.integers(-2**62, 2**62), min_size=2, max_size=2)))
    calls: dict[str, Callable[[], Call]] = {
        "random": lambda: {"fn": fn},
        "uniform": lambda: {"fn": fn, "args": [draw(fl(-9, 9)), draw(fl(-9, 9))]},
        "triangular": lambda: {"fn": fn, "args": draw(_triangular())[::2],
                               "kwargs": {"mode": draw(st.none() | fl(-10, 10))}},
        "randint": lambda: {"fn": fn, "args": [a, b]},
        "randrange": lambda: {"fn": fn, "args": [a, b + 1, draw(st.integers(1, 2**40))]},
        "getrandbits": lambda: {"fn": fn, "args": [draw(st.integers(0, 64))]},
        "randbytes": lambda: {"fn": fn, "args": [draw(st.integers(0, 40))]},
        "choice": lambda: {"fn": fn, "args": [population]},
        "choices": lambda: {"fn": fn, "args": [population],
                            "kwargs": {"k": draw(st.integers(0, 20))} | draw(
                                st.just({}) | st.just({"weights": [1.0] * len(population)}))},
        "shuffle": lambda: {"fn": fn, "args": [population]},
        "sample": lambda: {"fn": fn, "args": [population,
                                              draw(st.integers(0, len(population)))]},
        "gauss": lambda: {"fn": fn, "args": [draw(fl(-5, 5)), draw(fl(0, 5))]},
        "normalvariate": lambda: {"fn": fn, "kwargs": {"sigma": draw(fl(0, 5))}},
        "lognormvariate": lambda: {"fn": fn, "args": [draw(fl(-2, 2)), draw(fl(0, 2))]},
        "expovariate": lambda: {"fn": fn, "args": [draw(fl(0.1, 10))]},
        "vonmisesvariate": lambda: {"fn": fn, "args": [draw(fl(-3, 3)), draw(fl(0, 50))]},
        "gammavariate": lambda: {"fn": fn, "args": [draw(fl(0.1, 10)), draw(fl(0.1, 5))]},
        "betavariate": lambda: {"fn": fn, "args": [draw(fl(0.1, 10)), draw(fl(0.1, 10))]},
        "paretovariate": lambda: {"fn": fn, "args": [draw(fl(0.1, 10))]},
        "weibullvariate": lambda: {"fn": fn, "args": [draw(fl(0.1, 10)), draw(fl(0.1, 5))]},
    }
    return calls[fn]()


TORCH_FLOATS = ["float32", "float64", "float16", "bfloat16"]


def torch_call(draw: Draw, fn: str) -> Call:
    shape = draw(SHAPE)
    dtype = draw(st.none() | st.sampled_from(TORCH_FLOATS))
    kw = {} if dtype is None else {"dtype": dtype}
    probs = st.lists(st.just(0.0) | fl(0.01, 1), min_size=1, max_size=12)
    match fn:
        case "rand" | "randn":
            # torch.rand() without sizes is torch's own error; rand([]) is one value.
            args = draw(st.just([shape]) | st.just(shape)) if shape else [shape]
            return {"fn": fn, "args": args, "kwargs": kw}
        case "randint":
            high = draw(st.integers(1, 2**40))
            low = draw(st.integers(-2**40, high - 1))
            return {"fn": fn, "args": draw(st.just([low, high, shape]) | st.just([high, shape]))}
        case "randperm":
            return {"fn": fn, "args": [draw(st.integers(0, 300))]}
        case "normal":
            return {"fn": fn, "args": [draw(fl(-5, 5)), draw(fl(0, 5)), shape], "kwargs": kw}
        case "bernoulli":
            return {"fn": fn, "args": [draw(probs)]}
        case "poisson":
            return {"fn": fn, "args": [draw(st.lists(fl(0, 50), max_size=12))]}
        case "multinomial":
            weights = draw(probs.filter(lambda w: sum(w) > 0))
            positive = sum(1 for w in weights if w > 0)
            replacement = draw(st.booleans())
            n = draw(st.integers(1, 20 if replacement else positive))
            return {"fn": fn, "args": [weights, n, replacement]}
    raise AssertionError(fn)


FUNCTIONS: dict[str, list[str]] = {
    "legacy": ["rand", "randn", "random_sample", "random", "standard_normal",
               "standard_exponential", "standard_gamma", "randint", "bytes", "choice",
               "permutation", "shuffle", "multinomial", "dirichlet", *NUMPY_SAMPLERS],
    "generator": ["random", "standard_normal", "standard_exponential", "standard_gamma",
                  "integers", "bytes", "choice", "permutation", "permuted", "shuffle",
                  "multinomial", "dirichlet", *NUMPY_SAMPLERS],
    "python": ["random", "uniform", "triangular", "randint", "randrange", "getrandbits",
               "randbytes", "choice", "choices", "shuffle", "sample", "gauss",
               "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate",
               "gammavariate", "betavariate", "paretovariate", "weibullvariate"],
    "torch": ["rand", "randn", "randint", "randperm", "normal", "bernoulli", "poisson",
              "multinomial"],
}
MAKERS: dict[str, Callable[[Draw, str], Call]] = {
    "legacy": legacy_call, "generator": generator_call, "python": python_call,
    "torch": torch_call}


@st.composite
def programs(draw: Draw, engine: str, max_calls: int = 6) -> tuple[int, list[Call]]:
    family = FAMILY[engine]
    seed_max = {"legacy": 2**32 - 1, "generator": 2**128 - 1}.get(family, 2**64 - 1)
    seed = draw(st.integers(0, 50) | st.integers(0, seed_max))
    names = draw(st.lists(st.sampled_from(FUNCTIONS[family]), min_size=1, max_size=max_calls))
    return seed, [MAKERS[family](draw, name) for name in names]


@contextmanager
def global_states_kept() -> Iterator[None]:
    """Run code that seeds the libraries' global generators, then put them back."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def _torch_arg(value: Any, fn: str, position: int) -> Any:
    if fn in ("bernoulli", "poisson", "multinomial") and position == 0:
        return torch.tensor([float(v) for v in value])
    return value


def run_locally(engine: str, seed: int, calls: list[Call]) -> list[Any]:
    """The program as a user runs it, with the library's global functions."""
    family = FAMILY[engine]
    out: list[Any] = []
    with global_states_kept():
        if family == "legacy":
            np.random.seed(seed)
            lib: Any = np.random
        elif family == "generator":
            lib = np.random.Generator(BITGENS[engine](seed))
        elif family == "python":
            random.seed(seed)
            lib = random
        else:
            torch.manual_seed(seed)
            lib = torch
        for call in calls:
            args = [_torch_arg(a, call["fn"], i) if family == "torch" else
                    (list(a) if isinstance(a, list) else a)
                    for i, a in enumerate(call.get("args", []))]
            kwargs = dict(call.get("kwargs", {}))
            if family == "torch" and "dtype" in kwargs:
                kwargs["dtype"] = getattr(torch, kwargs["dtype"])
            result = getattr(lib, call["fn"])(*args, **kwargs)
            if call["fn"] == "shuffle":
                result = args[0]
            out.append(result)
    return out


def as_array(value: Any, fn: str) -> Any:
    """A local result as a numpy array (or a tensor for torch) to compare with the service's."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, bytes):
        return np.frombuffer(value, dtype=np.uint8)
    if fn == "getrandbits":
        return np.array(value, dtype=np.uint64)
    return np.asarray(value)
