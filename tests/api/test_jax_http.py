"""GET /v1/streams/jax-threefry/...: slices over HTTP against jax.random itself."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.jax import sampling
from app.core.jax.keys import SEED_MAX, WORD_MAX
from app.main import create_app
from tests.support import jax_oracle as jo
from tests.support.jax_strategies import (
    DEEP,
    DISTS,
    SPAWN,
    bitwise,
    randint_bounds,
    uniform_bounds,
)

N = 1024
"""Size of the reference calls (one compiled shape per dtype); slices lie inside it."""
URL = "/v1/streams/jax-threefry"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


Query = dict[str, str | int | float]
"""Query parameters as httpx sends them."""
Stream = tuple[str, str, Query, object, bool]
"""(distribution, dtype, query parameters naming the stream, JAX's key, x64)."""


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    """A stream as a query: seed under either x64 setting or explicit key words, a fold_in
    chain, a distribution, a dtype JAX offers under that x64 setting, and bounds."""
    x64 = draw(st.booleans())
    spawn = draw(SPAWN)
    query: Query = {"x64": "true" if x64 else "false"}
    if spawn:
        query["spawn_key"] = ",".join(map(str, spawn))
    if draw(st.booleans()):
        seed = draw(st.one_of(st.integers(0, 2**32 + 5), st.integers(0, SEED_MAX)))
        query["seed"] = seed
        ref_key = jo.make_key(seed, x64, spawn_key=spawn)
    else:
        words = (draw(st.integers(0, WORD_MAX)), draw(st.integers(0, WORD_MAX)))
        query["key"] = f"{words[0]},{words[1]}"
        ref_key = jo.make_key(None, x64, words, spawn)
    dist = draw(st.sampled_from(list(DISTS)))
    dtype = draw(st.sampled_from([d for d in DISTS[dist] if x64 or not sampling.x64_only(d)]))
    query["dtype"] = dtype
    if dist == "uniform":
        query |= {k: repr(v) for k, v in draw(uniform_bounds(dtype)).items()}
    elif dist == "randint":
        query |= draw(randint_bounds(dtype, x64))
    return dist, dtype, query, ref_key, x64


def jax_params(query: Query) -> dict[str, int | float]:
    """The bounds of the query as jax.random takes them."""
    return {k: (float(v) if isinstance(v, str) else v) for k, v in query.items()
            if k in ("minval", "maxval")}


def fetch(api: TestClient, dist: str, dtype: str, query: Query, offset: int,
          count: int) -> npt.NDArray[np.generic]:
    resp = api.get(f"{URL}/{dist}", params={**query, "offset": offset, "count": count,
                                            "format": "raw"})
    assert resp.status_code == 200, resp.text
    return np.frombuffer(resp.content, dtype=np.dtype(dtype).newbyteorder("<"))


@settings(max_examples=max(60, DEEP))
@given(stream=streams(), data=st.data())
def test_slices_and_partitions_equal_one_jax_call(api: TestClient, stream: Stream,
                                                  data: st.DataObject) -> None:
    dist, dtype, query, ref_key, x64 = stream
    ref = jo.reference(dist, ref_key, N, dtype, jax_params(query), x64)
    start = data.draw(st.integers(0, N))
    count = data.draw(st.integers(0, N - start))
    assert bitwise(fetch(api, dist, dtype, query, start, count), ref[start:start + count])
    cuts = sorted(data.draw(st.lists(st.integers(0, N), max_size=4)))
    parts = [fetch(api, dist, dtype, query, a, b - a) for a, b in pairwise([0, *cuts, N])]
    assert bitwise(np.concatenate(parts), ref)


@settings(max_examples=max(8, DEEP // 10))
@given(stream=streams(), offset=st.one_of(st.integers(2**32 - 40, 2**32 + 40),
                                          st.integers(0, 2**64 - 32), st.just(2**64 - 32)))
def test_far_offsets(api: TestClient, stream: Stream, offset: int) -> None:
    """Past 2**32, up to the end of the counter space: JAX's own transforms on bits whose
    counter starts at the offset (the threefry2x32 primitive)."""
    dist, dtype, query, ref_key, x64 = stream
    shifted = jo.make_key(None, x64, jo.key_words(ref_key), impl=jo.shifted(offset))
    ref = jo.reference(dist, shifted, 32, dtype, jax_params(query), x64)
    assert bitwise(fetch(api, dist, dtype, query, offset, 32), ref)


def test_formats_headers_etag_and_reference(api: TestClient) -> None:
    query = {"seed": 7, "minval": "-3", "maxval": "7.5", "offset": 5, "count": 4}
    body = api.get(f"{URL}/uniform", params=query)
    assert body.status_code == 200
    doc = body.json()
    assert doc["reference"] == ("import jax\nkey = jax.random.key(7)\nx = jax.random.uniform("
                                "key, (9,), minval=-3.0, maxval=7.5)[5:9]\n")
    assert doc["params"] == {"minval": -3.0, "maxval": 7.5, "x64": False}
    assert doc["versions"]["jax"] == jo.jax.__version__
    assert body.headers["X-Next-Offset"] == "9"
    ns: dict[str, object] = {}
    exec(doc["reference"], ns)
    expected = np.asarray(ns["x"])
    assert bitwise(np.asarray(doc["values"], dtype=np.float32), expected)
    npy = api.get(f"{URL}/uniform", params={**query, "format": "npy"})
    assert bitwise(np.load(io.BytesIO(npy.content)), expected)
    raw = api.get(f"{URL}/uniform", params={**query, "format": "raw"})
    assert raw.content == expected.tobytes()
    again = api.get(f"{URL}/uniform", params=query, headers={"If-None-Match": body.headers["ETag"]})
    assert again.status_code == 304
    other = api.get(f"{URL}/uniform", params={**query, "x64": "true"})
    assert other.headers["ETag"] != body.headers["ETag"]


@pytest.mark.parametrize(("dist", "query"), [
    ("bits", {"seed": 2**40 + 3, "x64": "true", "dtype": "uint64", "spawn_key": "3,5"}),
    ("randint", {"key": "1,2", "minval": -5, "maxval": 2**40, "x64": "true", "dtype": "int64"}),
    ("normal", {"seed": 11, "x64": "true", "dtype": "float64", "offset": 3}),
    ("normal", {"seed": 11, "spawn_key": "0"}),
])
def test_reference_code_reproduces_the_slice_without_leaking_x64(
        api: TestClient, dist: str, query: Query) -> None:
    doc = api.get(f"{URL}/{dist}", params={"count": 6, **query}).json()
    ns: dict[str, object] = {}
    exec(doc["reference"], ns)
    dtype = doc["dtype"]
    assert bitwise(np.array(doc["values"], dtype=dtype), np.asarray(ns["x"]))
    assert not jo.jax.config.jax_enable_x64  # neither the service nor the reference leaks it


def test_x64_normal_is_safe_under_concurrent_requests(api: TestClient) -> None:
    """float64 normals (JAX's erf_inv under x64, thread-locally) and float32 ones at once."""
    queries: list[Query] = [
        {"seed": s, "count": 300, "format": "raw",
         **({"x64": "true", "dtype": "float64"} if s % 2 else {})} for s in range(8)]
    expected = [jo.reference("normal", jo.make_key(s, bool(s % 2)), 300,
                             "float64" if s % 2 else "float32", {}, bool(s % 2))
                for s in range(len(queries))]
    got: dict[int, bytes] = {}

    def worker(i: int) -> None:
        for _ in range(3):
            got[i] = api.get(f"{URL}/normal", params=queries[i]).content

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, ref in enumerate(expected):
        assert got[i] == ref.tobytes()
    assert not jo.jax.config.jax_enable_x64


def test_run_seeds_and_fold_in(api: TestClient) -> None:
    assert api.put("/v1/runs/jax-run", json={"seed": 2**100 + 9}).status_code in (200, 201)
    doc = api.get(f"{URL}/bits", params={"run": "jax-run", "count": 4, "spawn_key": "2,7",
                                         "x64": "true"}).json()
    seed = int(np.random.SeedSequence(2**100 + 9).generate_state(1, np.uint64)[0]) >> 1
    assert doc["seed"] == seed
    ref = jo.reference("bits", jo.make_key(seed, True, spawn_key=(2, 7)), 4, "uint32", {}, True)
    assert doc["values"] == ref.tolist()
    seeds = api.get("/v1/seeds", params={"run": "jax-run", "spawn_key": "2,7"}).json()
    assert seeds["seeds"]["jax-threefry"] == (f"jax.random.fold_in(jax.random.fold_in("
                                              f"jax.random.key({seed}), 2), 7)")


@pytest.mark.parametrize(("dist", "query", "parameter"), [
    ("bits", {"seed": 1, "dtype": "uint64"}, "x64"),
    ("randint", {"seed": 1, "dtype": "int64", "minval": 0, "maxval": 5}, "x64"),
    ("uniform", {"seed": 1, "dtype": "float64"}, "x64"),
    ("normal", {"seed": 1, "dtype": "float64"}, "x64"),
    ("bits", {"seed": 1, "dtype": "int32"}, "dtype"),
    ("bits", {"seed": 1, "x64": "maybe"}, "x64"),
    ("bits", {"seed": 2**63}, "seed"),
    ("bits", {"key": "1"}, "key"),
    ("bits", {"key": "1,2,3"}, "key"),
    ("bits", {"key": f"{2**32},0"}, "key"),
    ("bits", {"key": "1,x"}, "key"),
    ("bits", {"key": "1,2", "seed": 3}, "key"),
    ("bits", {"count": 3}, "seed"),
    ("bits", {"seed": 1, "spawn_key": str(2**32)}, "spawn_key"),
    ("uniform", {"seed": 1, "minval": 2, "maxval": 1}, "maxval"),
    ("uniform", {"seed": 1, "minval": "1e-40"}, "minval"),
    ("uniform", {"seed": 1, "low": 0}, "low"),
    ("randint", {"seed": 1, "minval": 0}, "maxval"),
    ("randint", {"seed": 1, "minval": 0, "maxval": 2**31}, "maxval"),
    ("randint", {"seed": 1, "minval": 0.5, "maxval": 3}, "minval"),
    ("bits", {"seed": 1, "offset": 2**64 - 2, "count": 3}, "offset"),
])
def test_bad_parameters_are_422s_naming_them(api: TestClient, dist: str, query: Query,
                                             parameter: str) -> None:
    resp = api.get(f"{URL}/{dist}", params={"count": 3, **query})
    assert resp.status_code == 422, resp.text
    assert resp.json()["parameter"] == parameter


def test_normal_without_jax_is_a_501_naming_the_extra(api: TestClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampling, "jax_available", lambda: False)
    resp = api.get(f"{URL}/normal", params={"seed": 1, "count": 3})
    assert resp.status_code == 501
    assert "seed-authority[jax]" in resp.json()["message"]
    for dist, extra in (("bits", {}), ("uniform", {}), ("randint", {"minval": 0, "maxval": 9})):
        assert api.get(f"{URL}/{dist}", params={"seed": 1, "count": 3, **extra}).status_code \
            == 200


def test_engines_document_keys_and_what_needs_jax(api: TestClient) -> None:
    engines = {e["name"]: e for e in api.get("/v1/engines").json()["engines"]}
    jax = engines["jax-threefry"]
    assert "fold_in" in jax["doc"]
    assert "x64=true" in jax["doc"]
    assert "key=hi,lo" in jax["doc"]
    dists = {d["name"]: d for d in jax["distributions"]}
    assert set(dists) == {"bits", "uniform", "randint", "normal"}
    assert "seed-authority[jax]" in dists["normal"]["notes"]
    assert all("without JAX" in dists[d]["notes"] for d in ("bits", "uniform", "randint"))
    params = {p["name"]: p for p in dists["uniform"]["params"]}
    assert params["x64"]["type"] == "bool"
    assert params["x64"]["default"] is False
    assert params["key"]["type"] == "pair"
    assert not params["key"]["required"]
    assert dists["randint"]["access"] == "direct"
    assert dists["randint"]["reference_example"].endswith(
        "jax.random.randint(key, (3,), minval=0, maxval=10)\n")


def test_state_and_call_replay_are_refused_with_the_reason(api: TestClient) -> None:
    state = api.get("/v1/states/jax-threefry/uniform", params={"seed": 1})
    assert state.status_code == 422
    assert "functional" in state.json()["message"]
    calls = api.post("/v1/calls", json={"engine": "jax-threefry", "seed": 0,
                                        "calls": [{"fn": "rand", "args": [3]}]})
    assert calls.status_code == 422
    assert "/v1/streams/jax-threefry" in calls.json()["message"]


def test_drift_guard_covers_jax_and_skips_normal_without_jax(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.core import kat

    jax_streams = {(v["distribution"], v["dtype"]) for v in kat.vectors()
                   if v["engine"] == "jax-threefry"}
    assert ("normal", "float64") in jax_streams
    assert ("randint", "uint64") in jax_streams
    monkeypatch.setattr(sampling, "jax_available", lambda: False)
    assert kat.check() == {}  # normal is not served here: not drift
