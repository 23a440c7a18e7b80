"""Distributions by the libraries' own names, against the libraries called directly.

The oracle (tests/support/oracle.py ``method_reference``) calls ``rng.<name>(**params, size=n)``,
``rs.<name>(...)``, ``[r.<name>(**params) for _ in range(n)]`` or torch's own call by
keyword: nothing of the service's tables but the names.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.dtypes import DTYPES
from app.core.errors import InvalidParameter
from app.core.params import parse_params
from app.core.registry import ENGINES
from app.core.streams import Limits, StreamService, resolve
from tests.support.oracle import TORCH_METHODS, method_reference, run_reference, same_bits
from tests.support.services import NAMES, path_service
from tests.support.strategies import METHOD_ENTRIES, declared, example_params, method_streams

Stream = tuple[str, str, str, int, dict[str, Any]]


def _slice(svc: StreamService, s: Stream, offset: int, count: int) -> np.ndarray:
    engine, dist, dtype, seed, params = s
    return svc.slice(engine, dist, seed, offset, count, dtype, **params)


@given(method_streams(), st.integers(0, 2000),
       st.lists(st.integers(0, 300), min_size=1, max_size=4),
       st.sampled_from(NAMES))
def test_method_slices_equal_one_library_call(s: Stream, offset: int, parts: list[int],
                                              service: str) -> None:
    """Slices at any offset, in any partition, concatenate to one call of the library."""
    engine, dist, dtype, seed, params = s
    expected = method_reference(engine, dist, seed, offset + sum(parts), dtype, params)[offset:]
    svc = path_service(service)
    pieces, pos = [], offset
    for n in parts:
        pieces.append(_slice(svc, s, pos, n))
        pos += n
    assert same_bits(np.concatenate(pieces), expected)


@settings(max_examples=60)
@given(method_streams(), st.integers(0, 300), st.integers(0, 100))
def test_method_reference_code_reproduces_the_slice(s: Stream, offset: int,
                                                    count: int) -> None:
    engine, dist, dtype, seed, params = s
    stream = resolve(engine, dist, seed, dtype, params)
    x = run_reference(stream.reference(offset, offset + count), stream.dtype.storage)
    assert same_bits(x, _slice(StreamService(), s, offset, count))


FIXED: dict[str, list[dict[str, Any]]] = {
    "geometric": [{"p": 0.5}, {"p": 1 / 3}, {"p": 1.0}],
    "vonmises": [{"mu": 1.0, "kappa": 1e-9}, {"mu": 0.0, "kappa": 0.0}],
    "vonmisesvariate": [{"mu": 1.0, "kappa": 1e-7}],
    "zipf": [{"a": 2000.0}],
    "binomial": [{"n": 0, "p": 0.5}, {"n": 10, "p": 0.0}],
    "poisson": [{"lam": 0.0}],
    "weibull": [{"a": 0.0}, {"a": 2.0}],
    "gammavariate": [{"alpha": 1.0, "beta": 2.0}],
    "triangular": [{"left": -1.0, "mode": 2.0, "right": 2.0}, {"low": 0.0, "high": 3.0}],
}


def _fixed_cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    cases = []
    for engine, dist, dtype in METHOD_ENTRIES:
        spec = ENGINES[engine].distributions[dist]
        names = {p.name for p in spec.params}
        for override in [example_params(engine, dist), *FIXED.get(dist, [])]:
            if not set(override) <= names:
                continue
            params = {**example_params(engine, dist), **override}
            try:
                spec.check(params, DTYPES[dtype])
            except InvalidParameter:
                continue
            if ENGINES[engine].access.seekable and \
                    spec.units(params, DTYPES[dtype]) is not None:
                cases.append((engine, dist, dtype, params))
    return cases


@pytest.mark.parametrize(("engine", "dist", "dtype", "params"), _fixed_cases(),
                         ids=str)
def test_fixed_word_counts_reach_offsets_by_a_jump(engine: str, dist: str, dtype: str,
                                                   params: dict[str, Any]) -> None:
    """Where the registry says an element takes a fixed number of words, a generator
    jumped by offset * words continues exactly like one library call."""
    stream = resolve(engine, dist, 99, dtype, params)
    units = stream.units_per_element
    assert units is not None
    far = 20_000 if engine == "python-random" else 100_000
    expected = method_reference(engine, dist, 99, far + 64, dtype, params)
    for offset in (0, 2, 10, 1000, far):
        k = offset - offset % stream.dist.block
        got = stream.seek(k * units).draw(64)
        assert same_bits(got, expected[k:k + 64]), k
    assert same_bits(StreamService().slice(engine, dist, 99, far, 64, dtype, **params),
                     expected[far:])


@pytest.mark.parametrize(("engine", "dist", "dtype"), METHOD_ENTRIES, ids=str)
def test_every_method_entry_across_chunks_and_checkpoints(engine: str, dist: str,
                                                          dtype: str) -> None:
    params = example_params(engine, dist)
    n = 3000 if engine == "python-random" else 20_000
    expected = method_reference(engine, dist, 12345, n, dtype, params)
    s = (engine, dist, dtype, 12345, params)
    small = StreamService(Limits(chunk_bytes=512, checkpoint_interval_ms=0.01))
    for service in (StreamService(), small):
        got = np.concatenate([_slice(service, s, a, b - a)
                              for a, b in [(0, 1), (1, 17), (17, 999), (999, n - 3), (n - 3, n)]])
        assert same_bits(got, expected)
    assert same_bits(_slice(small, s, n - 77, 77), expected[n - 77:])


# --- validation ---------------------------------------------------------------------------

EXTRA_BOUNDS = {("numpy-legacy", "vonmises"), ("numpy-legacy", "zipf"),
                ("python-random", "paretovariate"), ("python-random", "weibullvariate"),
                ("python-random", "lognormvariate"), ("python-random", "betavariate")}
"""Where the service refuses more than the library, with the reason in the entry's notes."""
WILD = st.one_of(st.floats(-10, 10), st.sampled_from([0.0, 1.0, -1.0, 1e-9, 0.5, 2.0, 1e6]),
                 st.integers(-5, 50))


def _library_refuses(engine: str, dist: str, dtype: str, params: dict[str, Any]) -> bool:
    try:
        if engine.startswith("numpy"):
            method_reference(engine, dist, 0, 0, dtype, params)
        elif engine == "torch-cpu":
            method_reference(engine, dist, 0, 1, dtype, params)
        else:
            method_reference(engine, dist, 0, 200, dtype, params)
    except (ValueError, RuntimeError, OverflowError, ZeroDivisionError, TypeError):
        return True
    return False


@settings(max_examples=300)
@given(st.sampled_from(METHOD_ENTRIES), st.data())
def test_refused_exactly_when_the_library_refuses(entry: tuple[str, str, str],
                                                  data: st.DataObject) -> None:
    """Any value of each parameter: the service accepts what the library takes (and then
    serves it), refuses what the library refuses, naming a parameter of the call."""
    engine, dist, dtype = entry
    ps = declared(engine, dist)
    raw = {q.name: data.draw(WILD) for q in ps if not q.optional}
    names = [q.name for q in ps]
    refusal: InvalidParameter | None = None
    try:
        params = parse_params(ENGINES[engine].distributions[dist], raw)
        resolve(engine, dist, 0, dtype, raw)
    except InvalidParameter as e:
        refusal = e
    if refusal is None:
        assert all(math.isfinite(float(v)) for v in params.values())
        assert not _library_refuses(engine, dist, dtype, params)
        return
    assert refusal.parameter in names
    if any(q.kind == "int" and not float(raw[q.name]).is_integer() for q in ps):
        return  # numpy would truncate a float count: the service wants an integer
    if (engine, dist) not in EXTRA_BOUNDS:
        assert _library_refuses(engine, dist, dtype, raw), refusal


def test_library_domain_errors_become_422_naming_the_parameter() -> None:
    cases = [("numpy-pcg64", "gamma", {"shape": "-1"}, "shape"),
             ("numpy-pcg64", "beta", {"a": "1", "b": "0"}, "b"),
             ("numpy-pcg64", "hypergeometric", {"ngood": "5", "nbad": "5", "nsample": "11"},
              "nsample"),
             ("numpy-pcg64", "hypergeometric", {"ngood": str(10**9), "nbad": "5",
                                                "nsample": "1"}, "ngood"),
             ("numpy-pcg64", "negative_binomial", {"n": "1", "p": "1e-300"}, "p"),
             ("numpy-pcg64", "triangular", {"left": "1", "mode": "0", "right": "2"}, "mode"),
             ("numpy-pcg64", "poisson", {"lam": "1e19"}, "lam"),
             ("numpy-pcg64", "binomial", {"n": "2.5", "p": "0.5"}, "n"),
             ("numpy-pcg64", "zipf", {"a": "nan"}, "a"),
             ("numpy-legacy", "zipf", {"a": "1.001"}, "a"),
             ("numpy-legacy", "vonmises", {"mu": "0", "kappa": "1e17"}, "kappa"),
             ("python-random", "gammavariate", {"alpha": "0", "beta": "1"}, "alpha"),
             ("python-random", "paretovariate", {"alpha": "0.01"}, "alpha"),
             ("python-random", "lognormvariate", {"mu": "800", "sigma": "1"}, "sigma"),
             ("torch-cpu", "exponential", {"lambd": "0"}, "lambd"),
             ("torch-cpu", "bernoulli", {"p": "1.5"}, "p"),
             ("torch-cpu", "geometric", {"p": "1"}, "p"),
             ("numpy-pcg64", "gamma", {"shape": "2", "alpha": "1"}, "alpha")]
    for engine, dist, raw, param in cases:
        with pytest.raises(InvalidParameter) as info:
            resolve(engine, dist, 0, None, raw)
        assert info.value.parameter == param, (engine, dist, raw, info.value)


# --- torch: the kernels consume the generator's words serially ----------------------------

def _words_consumed(call: Any, seed: int = 123) -> int:
    """How many 32-bit words of torch's mt19937 a call consumed: the next words after it
    are found in the raw stream (np.random.RandomState has the same one for seed < 2**32)."""
    raw = np.random.RandomState(seed).randint(0, 2**32, size=30_000, dtype=np.uint32)
    low24 = raw.astype(np.int64) & 0xFFFFFF
    g = torch.Generator().manual_seed(seed)
    call(g)
    mark = torch.randint(0, 2**24, (6,), generator=g).numpy()
    for k in range(len(low24) - 6):
        if (low24[k:k + 6] == mark).all():
            return k
    raise AssertionError("mark not found")


@pytest.mark.parametrize("dist", sorted(TORCH_METHODS))
def test_torch_kernels_take_fixed_words_per_element(dist: str) -> None:
    """A VSL (MKL) path would take one word per call; the serial kernels take the
    registry's word count per element, for any size."""
    spec = ENGINES["torch-cpu"].distributions[dist]
    params = example_params("torch-cpu", dist)
    for dtype in spec.dtypes:
        dt = DTYPES[dtype]
        units = spec.units(params, dt)
        assert units is not None
        for n in (1, 2, 9, 1000, 5000):
            words = _words_consumed(
                lambda g, n=n, dtype=dtype: TORCH_METHODS[dist](n, getattr(torch, dtype),
                                                                params, g))
            whole = -(-n // spec.block) * spec.block
            assert words == whole * units, (dtype, n, words)


def test_torch_refusals_are_listed() -> None:
    refused = ENGINES["torch-cpu"].refused
    assert "bernoulli_" in refused
    assert "MKL" in refused["bernoulli_"]


# --- over HTTP ----------------------------------------------------------------------------

def test_http_serves_library_names_and_parameters(client: Any) -> None:
    resp = client.get("/v1/streams/numpy-pcg64/gamma",
                      params={"seed": 7, "shape": 2.5, "scale": 1.5, "offset": 2, "count": 3})
    assert resp.status_code == 200, resp.text
    assert resp.json()["values"] == np.random.default_rng(7).gamma(2.5, 1.5, 5)[2:].tolist()
    raw = client.get("/v1/streams/numpy-legacy/binomial",
                     params={"seed": 3, "n": 20, "p": 0.25, "count": 9, "format": "raw"})
    assert raw.content == np.random.RandomState(3).binomial(20, 0.25, 9).tobytes()
    bad = client.get("/v1/streams/numpy-pcg64/beta", params={"seed": 1, "a": 1, "b": 0,
                                                             "count": 1})
    assert bad.status_code == 422
    assert bad.json()["parameter"] == "b"
    missing = client.get("/v1/streams/numpy-pcg64/gamma", params={"seed": 1, "count": 1})
    assert missing.status_code == 422
    assert missing.json()["parameter"] == "shape"


def test_json_prints_non_finite_values_as_strings(client: Any) -> None:
    """numpy's pareto with a tiny a overflows to inf: JSON carries it as "inf", raw as bits."""
    query = {"seed": 7, "a": 0.001, "count": 64}
    body = client.get("/v1/streams/numpy-pcg64/pareto", params=query).json()
    expected = np.random.default_rng(7).pareto(0.001, 64)
    assert np.isinf(expected).any()
    assert "inf" in body["values"]
    assert same_bits(np.asarray(body["values"], dtype=np.float64), expected)
    raw = client.get("/v1/streams/numpy-pcg64/pareto", params={**query, "format": "raw"})
    assert raw.content == expected.tobytes()


def test_engines_lists_parameters_domains_and_refusals(client: Any) -> None:
    engines = {e["name"]: e for e in client.get("/v1/engines").json()["engines"]}
    gamma = {d["name"]: d for d in engines["numpy-pcg64"]["distributions"]}["gamma"]
    shape = gamma["params"][0]
    assert shape["name"] == "shape"
    assert shape["required"]
    assert ">= 0" in shape["doc"]
    assert "rng.gamma(shape=" in gamma["reference_example"]
    assert "bernoulli_" in engines["torch-cpu"]["refused"]
    tri = {d["name"]: d for d in engines["python-random"]["distributions"]}["triangular"]
    assert not tri["params"][2]["required"]


def test_docs_tables_are_the_registry() -> None:
    """docs/distributions.md is what scripts/make_distribution_docs.py writes from the
    registry (run it after changing a distribution)."""
    from scripts.make_distribution_docs import OUT, render

    assert OUT.read_text() == render(), "run python -m scripts.make_distribution_docs"


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("p", [-1.3e-245, -1e-40, -1e-3, 0.0, 0.5, 1.0, 1 + 1e-9, 1.0000001,
                               1.001, 1e300, float("nan")])
def test_bernoulli_p_is_checked_as_torch_full_rounds_it(dtype: str, p: float) -> None:
    """torch checks the tensor torch.full made: -1e-245 is -0.0 in float32 (accepted), 1.001
    is 1.0 in bfloat16 (accepted), 1e300 overflows float16 (refused). Found by hypothesis."""
    try:
        torch.bernoulli(torch.full((4,), p, dtype=getattr(torch, dtype)))
        library_accepts = True
    except RuntimeError:
        library_accepts = False
    check = ENGINES["torch-cpu"].distributions["bernoulli"].check
    if library_accepts:
        check({"p": p}, DTYPES[dtype])
    else:
        with pytest.raises(InvalidParameter) as refused:
            check({"p": p}, DTYPES[dtype])
        assert refused.value.parameter == "p"
