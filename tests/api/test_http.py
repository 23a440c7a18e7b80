"""The HTTP API through the app: formats, caching headers, errors, limits, docs."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.config import Settings
from app.core.registry import ENGINES
from app.main import create_app
from tests.support.oracle import reference, same_bits
from tests.support.strategies import ALL_ENTRIES

URL = "/v1/streams/{}/{}"
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("numpy-legacy", "uniform", "float64", {"low": -2.0, "high": 3.5}),
    ("numpy-legacy", "integers", "uint64", {"low": 0, "high": 2**64}),
    ("numpy-pcg64", "normal", "float32", {"loc": 0.0, "scale": 1.0}),
    ("numpy-philox", "uniform", "float32", {"low": 0.0, "high": 1.0}),
    ("python-random", "normal", "float64", {"loc": 1.0, "scale": 2.0}),
    ("torch-cpu", "normal", "bfloat16", {"loc": 0.0, "scale": 1.0}),
    ("torch-cpu", "uniform", "float16", {"low": -1.0, "high": 1.0}),
    ("torch-cpu", "integers", "int8", {"low": -128, "high": 128}),
]


def _get(client: TestClient, engine: str, dist: str, **query: Any) -> Any:
    return client.get(URL.format(engine, dist), params=query)


def _decode(resp: Any, dtype: np.dtype[Any]) -> np.ndarray:
    ctype = resp.headers["content-type"]
    if ctype.startswith("application/json"):
        values = resp.json()["values"]
        if resp.headers["x-dtype"] == "bfloat16":  # held as bit patterns
            t = torch.tensor(values, dtype=torch.float64).to(torch.bfloat16)
            return t.view(torch.int16).numpy().view(np.uint16)
        if dtype.kind == "f":  # parse as float64, then cast: must give the same bits
            return np.array(values, dtype=np.float64).astype(dtype)
        return np.array(values, dtype=dtype)
    if ctype == "application/x-npy":
        return np.asarray(np.load(io.BytesIO(resp.content)))
    assert ctype == "application/octet-stream"
    return np.frombuffer(resp.content, dtype=dtype)


@pytest.mark.parametrize(("engine", "dist", "dtype", "params"), CASES)
def test_all_formats_give_the_library_bits(client: TestClient, engine: str, dist: str,
                                           dtype: str, params: dict[str, Any]) -> None:
    offset, count = 37, 300
    expected = reference(engine, dist, 11, offset + count, dtype, params, start=offset)
    query = {"seed": 11, "offset": offset, "count": count, "dtype": dtype, **params}
    fmts = ["json", "raw"] + ([] if dtype == "bfloat16" else ["npy"])
    for fmt in fmts:
        resp = _get(client, engine, dist, format=fmt, **query)
        assert resp.status_code == 200, resp.text
        assert same_bits(_decode(resp, expected.dtype), expected), fmt
        assert resp.headers["x-offset"] == str(offset)
        assert resp.headers["x-count"] == str(count)
        assert resp.headers["x-next-offset"] == str(offset + count)
        assert resp.headers["x-dtype"] == dtype
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    for accept, ctype in [("application/x-npy", "application/x-npy"),
                          ("application/octet-stream", "application/octet-stream"),
                          ("text/html, application/json;q=0.9", "application/json"),
                          ("*/*", "application/json")]:
        if dtype == "bfloat16" and ctype == "application/x-npy":
            continue
        resp = client.get(URL.format(engine, dist), params=query, headers={"Accept": accept})
        assert resp.headers["content-type"].startswith(ctype), accept
        assert same_bits(_decode(resp, expected.dtype), expected)


def test_json_shape_and_reference(client: TestClient) -> None:
    body = _get(client, "numpy-legacy", "uniform", seed=7, offset=3, count=3).json()
    assert body["values"] == [0.7234651778309412, 0.9779895119966027, 0.5384958704104337]
    assert {k: body[k] for k in ("engine", "distribution", "seed", "offset", "count",
                                 "next_offset", "dtype", "params")} == {
        "engine": "numpy-legacy", "distribution": "uniform", "seed": 7, "offset": 3, "count": 3,
        "next_offset": 6, "dtype": "float64", "params": {"low": 0.0, "high": 1.0}}
    assert set(body["versions"]) >= {"numpy", "torch", "python", "torch_cpu_capability"}
    assert body["versions"]["numpy"] == np.__version__
    scope: dict[str, Any] = {}
    exec(body["reference"], scope)
    assert scope["x"].tolist() == body["values"]


def test_big_seed_and_values_in_json(client: TestClient) -> None:
    seed = 2**128 - 1
    body = _get(client, "numpy-pcg64", "integers", seed=seed, count=5, low=0,
                high=2**64, dtype="uint64").json()
    assert body["seed"] == seed
    expected = np.random.Generator(np.random.PCG64(seed)).integers(0, 2**64, 5, dtype=np.uint64)
    assert body["values"] == expected.tolist()


def test_etag_is_stable_across_processes_and_answers_304(client: TestClient,
                                                         live_server: str) -> None:
    import httpx

    query = {"seed": 5, "offset": 10, "count": 4}
    first = _get(client, "torch-cpu", "uniform", **query)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    other = TestClient(create_app())
    assert _get(other, "torch-cpu", "uniform", **query).headers["etag"] == etag
    remote = httpx.get(f"{live_server}/v1/streams/torch-cpu/uniform", params=query)
    assert remote.headers["etag"] == etag
    again = client.get(URL.format("torch-cpu", "uniform"), params=query,
                       headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(URL.format("torch-cpu", "uniform"), params=query,
                      headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    assert client.get(URL.format("torch-cpu", "uniform"), params=query,
                      headers={"If-None-Match": '"other"'}).status_code == 200
    for change in ({"seed": 6}, {"offset": 11}, {"count": 5}, {"format": "raw"},
                   {"low": 0.5}, {"dtype": "float64"}):
        assert _get(client, "torch-cpu", "uniform", **{**query, **change}).headers["etag"] != etag


BAD: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("nope", "uniform", {"seed": 1, "count": 1}, 422, "engine"),
    ("numpy-legacy", "multinomial", {"seed": 1, "count": 1}, 422, "distribution"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "dtype": "float8"}, 422, "dtype"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "dtype": "float32"}, 422, "dtype"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "low": 0, "high": 9, "dtype": "int8"},
     422, "dtype"),
    ("numpy-pcg64", "uniform", {"seed": 1, "count": 1, "dtype": "float32", "high": 2}, 422,
     "dtype"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "format": "xml"}, 422, "format"),
    ("torch-cpu", "normal", {"seed": 1, "count": 1, "dtype": "bfloat16", "format": "npy"}, 422,
     "format"),
    ("numpy-legacy", "uniform", {"seed": -1, "count": 1}, 422, "seed"),
    ("numpy-legacy", "uniform", {"seed": 2**32, "count": 1}, 422, "seed"),
    ("torch-cpu", "uniform", {"seed": 2**64, "count": 1}, 422, "seed"),
    ("numpy-pcg64", "uniform", {"seed": 2**128, "count": 1}, 422, "seed"),
    ("numpy-legacy", "uniform", {"seed": "abc", "count": 1}, 422, "seed"),
    ("numpy-legacy", "uniform", {"count": 1}, 422, "seed"),
    ("numpy-legacy", "uniform", {"seed": 1}, 422, "count"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "offset": -1}, 422, "offset"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": -1}, 422, "count"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 10**9}, 422, "count"),
    ("numpy-legacy", "normal", {"seed": 1, "count": 1, "offset": 10**15}, 422, "offset"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "offset": 2**64}, 422, "offset"),
    ("python-random", "normal", {"seed": 1, "count": 1, "offset": 10**9}, 422, "offset"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": 2, "high": 1}, 422, "high"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": 1, "high": 1}, 422, "high"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": "nan"}, 422, "low"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "high": "inf"}, 422, "high"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "high": "1e999"}, 422, "high"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": "1,5"}, 422, "low"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": -1e308, "high": 1e308}, 422,
     "high"),
    ("torch-cpu", "uniform", {"seed": 1, "count": 1, "dtype": "float16", "high": 70000}, 422,
     "high"),
    ("numpy-legacy", "normal", {"seed": 1, "count": 1, "scale": -1}, 422, "scale"),
    ("torch-cpu", "normal", {"seed": 1, "count": 1, "dtype": "float16", "scale": 5000}, 422,
     "scale"),
    ("numpy-legacy", "normal", {"seed": 1, "count": 1, "low": 0}, 422, "low"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "high": 5}, 422, "low"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "low": 0, "high": 2.5}, 422, "high"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "low": 0, "high": "1e3"}, 422, "high"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "low": -1, "high": 5,
                                  "dtype": "uint32"}, 422, "low"),
    ("numpy-legacy", "integers", {"seed": 1, "count": 1, "low": 0, "high": 2**31 + 1,
                                  "dtype": "int32"}, 422, "high"),
    ("torch-cpu", "integers", {"seed": 1, "count": 1, "low": 0, "high": 2**63}, 422, "high"),
    ("python-random", "integers", {"seed": 1, "count": 1, "low": 0, "high": 2**64}, 422, "high"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "sead": 2}, 422, "sead"),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 1, "low": "9" * 5000}, 422, "low"),
]


@pytest.mark.parametrize(("engine", "dist", "query", "status", "parameter"), BAD)
def test_bad_input_is_a_clear_4xx(client: TestClient, engine: str, dist: str,
                                  query: dict[str, Any], status: int,
                                  parameter: str | None) -> None:
    resp = _get(client, engine, dist, **query)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["parameter"] == parameter
    assert body["message"].startswith(f"{parameter}:")
    assert len(body["message"]) > len(parameter or "") + 5


def test_unacceptable_accept_is_406(client: TestClient) -> None:
    resp = client.get(URL.format("numpy-legacy", "uniform"), params={"seed": 1, "count": 1},
                      headers={"Accept": "text/html"})
    assert resp.status_code == 406
    assert resp.json()["parameter"] == "Accept"


def test_limits_are_configurable() -> None:
    c = TestClient(create_app(Settings(max_count=10, max_skip_ms=1.0)))
    assert _get(c, "numpy-legacy", "uniform", seed=1, count=10).status_code == 200
    assert _get(c, "numpy-legacy", "uniform", seed=1, count=11).json()["parameter"] == "count"
    # 1 ms at ~35 ns per element: ~28,000 normals reachable cold (normal has no jump)
    assert _get(c, "numpy-legacy", "normal", seed=1, offset=20_000, count=1).status_code == 200
    assert _get(c, "numpy-legacy", "normal", seed=2, offset=200_000,
                count=1).json()["parameter"] == "offset"
    # uniform jumps: any offset
    assert _get(c, "numpy-legacy", "uniform", seed=2, offset=10**15, count=1).status_code == 200
    limits = c.get("/v1/engines").json()["limits"]
    assert limits["max_count"] == 10
    assert limits["max_skip_ms"] == 1.0


def test_checkpoints_make_consecutive_slices_reachable() -> None:
    """A far offset refused cold is served once earlier slices have left checkpoints."""
    c = TestClient(create_app(Settings(max_skip_ms=1.0)))
    step = 50_000
    far = 4 * step
    assert _get(c, "numpy-legacy", "normal", seed=3, offset=far, count=5).status_code == 422
    for off in range(0, far, step):
        assert _get(c, "numpy-legacy", "normal", seed=3, offset=off, count=step,
                    format="raw").status_code == 200
    resp = _get(c, "numpy-legacy", "normal", seed=3, offset=far, count=5, format="raw")
    assert resp.status_code == 200
    expected = reference("numpy-legacy", "normal", 3, far + 5, "float64",
                         {"loc": 0.0, "scale": 1.0})[far:]
    assert same_bits(np.frombuffer(resp.content, dtype="<f8"), expected)
    cache = c.get("/v1/engines").json()["cache"]
    assert cache["hits"] >= 4
    assert cache["parked"] == 1  # the generator left where the last slice ended


def test_engines_lists_the_registry(client: TestClient) -> None:
    body = client.get("/v1/engines").json()
    listed = {(e["name"], d["name"], dt) for e in body["engines"] for d in e["distributions"]
              for dt in d["dtypes"]}
    assert listed == set(ALL_ENTRIES)
    legacy = next(e for e in body["engines"] if e["name"] == "numpy-legacy")
    assert legacy["seed_max"] == 2**32 - 1
    access = {(e["name"], d["name"]): d["access"] for e in body["engines"]
              for d in e["distributions"]}
    assert access["numpy-legacy", "uniform"] == "direct"
    assert access["numpy-legacy", "normal"] == "checkpointed"
    assert access["numpy-legacy", "integers"].startswith("direct when")
    assert access["torch-cpu", "normal"] == "direct"
    assert {a for (e, _), a in access.items() if e == "numpy-sfc64"} == {"checkpointed"}
    for engine in body["engines"]:
        for dist in engine["distributions"]:
            assert set(dist["access_by_dtype"]) == set(dist["dtypes"])
    assert body["limits"]["checkpoint_interval_ms"] > 0
    assert {"parked", "hits", "bytes", "max_bytes"} <= set(body["cache"])
    assert body["versions"]["torch"] == torch.__version__
    assert set(body["formats"]) == {"json", "npy", "raw"}
    for engine in body["engines"]:
        if engine["name"] == "torch-cuda" and not torch.cuda.is_available():
            continue  # its reference code runs on a GPU (tests/core/test_cuda.py covers it)
        for dist in engine["distributions"]:
            scope: dict[str, Any] = {}
            exec(dist["reference_example"], scope)
            assert len(scope["x"]) == 3


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["detail"]["engines"] == len(ENGINES)


def test_openapi_documents_every_endpoint_and_binary_formats(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/streams/{engine}/{distribution}", "/v1/engines", "/healthz", "/readyz",
            "/v1/states/{engine}/{distribution}", "/v1/seeds", "/v1/tensors/init",
            "/v1/modules/init", "/v1/inits", "/metrics", "/v1/permutations/{engine}",
            "/v1/permutations", "/v1/samplers/distributed",
            "/v1/samplers/dataloader", "/v1/calls", *RUN_PATHS} == set(spec["paths"])
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert op.get("summary"), path
            assert op["responses"]["200"].get("content"), path
            for p in op.get("parameters", []):
                assert p.get("description") or p["schema"].get("description"), (path, p)
    op = spec["paths"]["/v1/streams/{engine}/{distribution}"]["get"]
    content = op["responses"]["200"]["content"]
    assert content["application/x-npy"]["schema"]["format"] == "binary"
    assert content["application/octet-stream"]["schema"]["format"] == "binary"
    assert "application/json" in content
    names = {p["name"] for p in op["parameters"]}
    assert {"engine", "distribution", "seed", "offset", "count", "dtype", "format", "low",
            "high", "loc", "scale"} <= names
    for p in op["parameters"]:
        assert p.get("description") or p["schema"].get("description"), p["name"]
    assert client.get("/docs").status_code == 200


RUN_PATHS = {"/v1/runs", "/v1/runs/{name}", "/v1/runs/{run}/cursors",
             "/v1/runs/{run}/cursors/{cursor}", "/v1/runs/{run}/cursors/{cursor}/claims",
             "/v1/runs/{run}/cursors/{cursor}/claims/{claim_id}", "/v1/runs/{run}/audit"}


def test_run_endpoints_answer_valid_requests(client: TestClient) -> None:
    """Every endpoint of runs, cursors, claims and audit, once (a temp SQLite database)."""
    name = f"http-{random.getrandbits(64):x}"
    cursor = {"engine": "torch-cpu", "distribution": "uniform", "spawn_key": "1"}
    calls: list[tuple[str, str, Any, int]] = [
        ("PUT", f"/v1/runs/{name}", {"note": "n"}, 201),
        ("GET", f"/v1/runs/{name}", None, 200),
        ("GET", "/v1/runs", None, 200),
        ("PUT", f"/v1/runs/{name}/cursors/c", cursor, 201),
        ("GET", f"/v1/runs/{name}/cursors/c", None, 200),
        ("GET", f"/v1/runs/{name}/cursors", None, 200),
        ("POST", f"/v1/runs/{name}/cursors/c/claims", {"count": 3, "worker": "w"}, 201),
        ("GET", f"/v1/runs/{name}/cursors/c/claims", None, 200),
        ("GET", f"/v1/runs/{name}/cursors/c/claims/{{id}}", None, 200),
        ("GET", f"/v1/runs/{name}/audit", None, 200),
        ("GET", f"/v1/seeds?run={name}", None, 200),
        ("GET", f"/v1/states/torch-cpu/uniform?run={name}&offset=3", None, 200),
    ]
    claim_id = None
    for method, path, body, status in calls:
        resp = client.request(method, path.replace("{id}", str(claim_id)), json=body)
        assert resp.status_code == status, (path, resp.text)
        if path.endswith("/claims") and method == "POST":
            claim_id = resp.json()["id"]
            assert client.get(resp.json()["url"]).status_code == 200


def test_requests_never_touch_global_rng_state(client: TestClient) -> None:
    np_state = np.random.get_state(legacy=False)
    py_state, t_state = random.getstate(), torch.get_rng_state()
    for engine, dist, dtype, params in CASES:
        _get(client, engine, dist, seed=3, count=50, dtype=dtype, **params)
    assert json.dumps(py_state) == json.dumps(random.getstate())
    after = np.random.get_state(legacy=False)
    assert np.array_equal(np_state["state"]["key"], after["state"]["key"])
    assert (np_state["state"]["pos"], np_state["has_gauss"], np_state["gauss"]) == (
        after["state"]["pos"], after["has_gauss"], after["gauss"])
    assert torch.equal(t_state, torch.get_rng_state())
