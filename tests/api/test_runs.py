"""Named runs, cursors, claims and the audit trail, on SQLite and on the real PostgreSQL.

Streams served by ``run=`` are compared with the libraries called directly, the engine's
seed derived in the test from the run's stored seed with numpy's SeedSequence."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from app.config import Settings
from app.db.migrate import main as migrate_main
from app.db.store import Database
from app.main import create_app
from tests.support.oracle import reference, same_bits

RUN = "/v1/runs/{}"


@pytest.fixture
def app_client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=db_url))) as c:
        yield c


def narrow_seed(run_seed: int, bits: int, spawn_key: tuple[int, ...] = ()) -> int:
    dtype = np.uint32 if bits == 32 else np.uint64
    return int(np.random.SeedSequence(run_seed, spawn_key=spawn_key).generate_state(1, dtype)[0])


def test_migrations_from_empty(db_url: str) -> None:
    assert migrate_main([db_url]) == 0
    db = Database(db_url)
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"runs", "cursors", "claims", "audit", "alembic_version"} <= tables
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    db.migrate()  # again: nothing to do
    db.dispose()


def test_run_is_created_once(app_client: TestClient) -> None:
    first = app_client.put(RUN.format("exp-42"), json={"note": "8 ranks"})
    assert first.status_code == 201, first.text
    run = first.json()
    assert 0 <= run["seed"] < 2**128
    assert run["seed_source"] == "entropy"
    assert run["note"] == "8 ranks"
    assert run["versions"]["numpy"] == np.__version__
    assert run["versions"]["torch"] == torch.__version__
    assert run["versions"]["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    again = app_client.put(RUN.format("exp-42"))
    assert again.status_code == 200
    assert again.json() == run
    assert app_client.get(RUN.format("exp-42")).json() == run
    clash = app_client.put(RUN.format("exp-42"), json={"seed": 5})
    assert clash.status_code == 409
    assert clash.json()["parameter"] == "seed"
    given = app_client.put(RUN.format("fixed"), json={"seed": 2**128 - 1})
    assert given.status_code == 201
    assert given.json()["seed"] == 2**128 - 1
    assert given.json()["seed_source"] == "given"
    assert app_client.put(RUN.format("fixed"), json={"seed": 2**128 - 1}).status_code == 200
    assert app_client.put(RUN.format("fixed"), json={"seed": 1}).status_code == 409
    seeds = {app_client.put(RUN.format(f"r{i}")).json()["seed"] for i in range(5)}
    assert len(seeds) == 5


BAD_RUNS: list[tuple[str, Any, str]] = [
    ("-starts-with-dash", None, "name"), ("x" * 65, None, "name"), ("a b", None, "name"),
    ("ünï", None, "name"), ("ok", {"seed": -1}, "seed"), ("ok", {"seed": 2**128}, "seed"),
    ("ok", {"sead": 1}, "sead"), ("ok", {"note": "x" * 1001}, "note"),
]


def test_bad_runs_are_422(app_client: TestClient) -> None:
    for name, body, parameter in BAD_RUNS:
        resp = app_client.put(RUN.format(name), json=body)
        assert resp.status_code == 422, resp.text
        assert resp.json()["parameter"] == parameter
        assert resp.json()["message"].startswith(f"{parameter}:")


def test_runs_are_listed_newest_first_by_page(app_client: TestClient) -> None:
    names = [f"list-{i}" for i in range(7)]
    for name in names:
        app_client.put(RUN.format(name))
    seen: list[str] = []
    page: int | None = None
    while True:
        body = app_client.get("/v1/runs", params={"limit": 3} | (
            {"page": page} if page is not None else {})).json()
        seen += [r["name"] for r in body["runs"]]
        page = body["next_page"]
        if page is None:
            break
    assert seen == names[::-1]
    assert app_client.get("/v1/runs", params={"limit": 0}).json()["parameter"] == "limit"


STREAMS: list[tuple[str, str, str, dict[str, Any], int]] = [
    # engine, distribution, dtype, params, seed bits (0: takes the SeedSequence)
    ("numpy-pcg64", "normal", "float64", {"loc": 0.0, "scale": 1.0}, 0),
    ("numpy-philox", "uniform", "float64", {"low": -1.0, "high": 2.0}, 0),
    ("numpy-legacy", "uniform", "float64", {"low": 0.0, "high": 1.0}, 32),
    ("python-random", "normal", "float64", {"loc": 1.0, "scale": 2.0}, 64),
    ("torch-cpu", "uniform", "float32", {"low": 0.0, "high": 1.0}, 64),
    ("torch-cpu", "integers", "int64", {"low": -5, "high": 5}, 64),
]


def test_run_streams_are_the_library_seeded_from_the_run(app_client: TestClient) -> None:
    run_seed = app_client.put(RUN.format("eq"), json={"seed": 2**127 + 12345}).json()["seed"]
    for engine, dist, dtype, params, bits in STREAMS:
        for spawn_key in [(), (3,), (0, 7)]:
            check_run_stream(app_client, run_seed, engine, dist, dtype, params, bits,
                             spawn_key)


def check_run_stream(app_client: TestClient, run_seed: int, engine: str, dist: str,
                     dtype: str, params: dict[str, Any], bits: int,
                     spawn_key: tuple[int, ...]) -> None:
    if bits == 0:
        lib_seed: Any = np.random.SeedSequence(run_seed, spawn_key=spawn_key)
    else:
        lib_seed = narrow_seed(run_seed, bits, spawn_key)
    offset, count = 21, 40
    expected = reference(engine, dist, lib_seed, offset + count, dtype, params)[offset:]
    query = {"run": "eq", "offset": offset, "count": count, "dtype": dtype, **params}
    if spawn_key:
        query["spawn_key"] = ",".join(map(str, spawn_key))
    resp = app_client.get(f"/v1/streams/{engine}/{dist}", params=query | {"format": "raw"})
    assert resp.status_code == 200, resp.text
    got = np.frombuffer(resp.content, dtype=expected.dtype)
    assert same_bits(got, expected)
    body = app_client.get(f"/v1/streams/{engine}/{dist}", params=query).json()
    assert body["run"] == "eq"
    scope: dict[str, Any] = {}
    exec(body["reference"], scope)  # the reference code names the derived seed
    assert np.asarray(scope["x"]).tolist() == body["values"]
    if engine != "torch-cpu" or dist == "uniform":
        state = app_client.get(f"/v1/states/{engine}/{dist}",
                               params={k: v for k, v in query.items() if k != "count"})
        assert state.status_code == 200, state.text
        assert state.json()["run"] == "eq"


def test_run_seeds_derive_from_the_run_seed(app_client: TestClient) -> None:
    run_seed = app_client.put(RUN.format("ranks")).json()["seed"]
    for spawn_key in [(), (3,), (1, 2)]:
        params = {"run": "ranks"} | ({"spawn_key": ",".join(map(str, spawn_key))}
                                     if spawn_key else {})
        body = app_client.get("/v1/seeds", params=params).json()
        assert body["run"] == "ranks"
        assert body["seed"] == run_seed
        seeds = body["seeds"]
        assert seeds["numpy-legacy"] == narrow_seed(run_seed, 32, spawn_key)
        assert seeds["python-random"] == narrow_seed(run_seed, 64, spawn_key)
        assert seeds["torch-cpu"] == narrow_seed(run_seed, 64, spawn_key)
        # the numpy Generator expression builds the same generator as the run's streams
        gen = eval(body["numpy_generator"], {"np": np})
        expected = np.random.default_rng(np.random.SeedSequence(run_seed, spawn_key=spawn_key))
        assert gen.random(5).tolist() == expected.random(5).tolist()
        scope: dict[str, Any] = {}
        state = random.getstate()
        try:
            exec(f"import random\nrandom.seed({seeds['python-random']})\nx = random.random()",
                 scope)
        finally:
            random.setstate(state)
        assert scope["x"] == random.Random(narrow_seed(run_seed, 64, spawn_key)).random()


def test_seed_and_run_exactly_one(app_client: TestClient) -> None:
    app_client.put(RUN.format("one"))
    cases = [("/v1/streams/numpy-pcg64/uniform", {"count": 1}, "seed"),
             ("/v1/streams/numpy-pcg64/uniform", {"count": 1, "seed": 1, "run": "one"}, "run"),
             ("/v1/states/numpy-pcg64/uniform", {"seed": 1, "run": "one"}, "run"),
             ("/v1/seeds", {}, "seed"),
             ("/v1/seeds", {"seed": 1, "run": "one"}, "run")]
    for path, params, parameter in cases:
        resp = app_client.get(path, params=params)
        assert resp.status_code == 422, (path, params)
        assert resp.json()["parameter"] == parameter
    for path in ["/v1/streams/numpy-pcg64/uniform", "/v1/seeds"]:
        resp = app_client.get(path, params={"run": "nope", "count": 1})
        assert resp.status_code == 404
        assert resp.json()["parameter"] == "run"
    assert app_client.get("/v1/seeds", params={"run": "bad name"}).status_code == 422


def test_run_made_under_other_versions_is_409_unless_allowed(db_url: str) -> None:
    db = Database(db_url)
    old = {"numpy": "1.26.4", "torch": "2.13.0+cpu", "python": "3.11.7",
           "torch_cpu_capability": "AVX512"}
    _, created = db.create_run("old", seed=7, versions=old)
    assert created
    client = TestClient(create_app(Settings(database_url=db_url)))
    resp = client.get("/v1/streams/numpy-pcg64/uniform", params={"run": "old", "count": 2})
    assert resp.status_code == 409
    assert resp.json()["error"] == "version_drift"
    assert "numpy 1.26.4 (run)" in resp.json()["message"]
    ok = client.get("/v1/streams/numpy-pcg64/uniform",
                    params={"run": "old", "count": 2, "allow_version_drift": "true"})
    assert ok.status_code == 200
    assert ok.json()["values"] == np.random.default_rng(7).random(2).tolist()
    assert client.get("/v1/seeds", params={"run": "old"}).status_code == 409
    assert client.get("/v1/runs/old").json()["versions"] == old
    db.dispose()


CURSOR = {"engine": "numpy-pcg64", "distribution": "normal", "dtype": "float64",
          "spawn_key": "2"}


def test_cursor_claims_concatenate_to_one_local_call(app_client: TestClient) -> None:
    run_seed = app_client.put(RUN.format("c")).json()["seed"]
    url = "/v1/runs/c/cursors/data"
    made = app_client.put(url, json=CURSOR)
    assert made.status_code == 201, made.text
    assert made.json()["position"] == 0
    assert made.json()["params"] == {"loc": 0.0, "scale": 1.0}
    assert app_client.put(url, json=CURSOR).status_code == 200
    clash = app_client.put(url, json={**CURSOR, "spawn_key": "3"})
    assert clash.status_code == 409
    assert clash.json()["parameter"] == "cursor"
    claims = []
    for i, n in enumerate([5, 1, 17, 3]):
        resp = app_client.post(f"{url}/claims", json={"count": n, "worker": f"w{i}"})
        assert resp.status_code == 201, resp.text
        claims.append(resp.json())
    assert [c["offset"] for c in claims] == [0, 5, 6, 23]
    assert all(c["next_offset"] == c["offset"] + c["count"] for c in claims)
    values = np.concatenate([app_client.get(c["url"]).json()["values"] for c in claims])
    expected = np.random.default_rng(np.random.SeedSequence(run_seed, spawn_key=(2,))).normal(
        0.0, 1.0, 26)
    assert values.tolist() == expected.tolist()
    assert app_client.get(url).json()["position"] == 26
    again = app_client.get(f"{url}/claims/{claims[2]['id']}")
    assert again.json() == claims[2]
    listed = app_client.get(f"{url}/claims", params={"limit": 3}).json()
    assert listed["claims"] == claims[:3]
    rest = app_client.get(f"{url}/claims", params={"start": listed["next_page"]}).json()
    assert listed["claims"] + rest["claims"] == claims
    assert app_client.get("/v1/runs/c/cursors").json()["cursors"][0]["position"] == 26


def test_claim_keys_make_retries_safe(app_client: TestClient) -> None:
    app_client.put(RUN.format("k"))
    app_client.put("/v1/runs/k/cursors/q", json=CURSOR)
    first = app_client.post("/v1/runs/k/cursors/q/claims", json={"count": 4, "key": "a"})
    retry = app_client.post("/v1/runs/k/cursors/q/claims", json={"count": 4, "key": "a"})
    other = app_client.post("/v1/runs/k/cursors/q/claims", json={"count": 4, "key": "b"})
    assert (first.status_code, retry.status_code, other.status_code) == (201, 200, 201)
    assert retry.json() == first.json()
    assert other.json()["offset"] == 4
    assert app_client.get("/v1/runs/k/cursors/q").json()["position"] == 8


BAD_CURSORS: list[tuple[str, Any, int, str]] = [
    ("/v1/runs/none/cursors/x", CURSOR, 404, "run"),
    ("/v1/runs/r/cursors/x", {**CURSOR, "engine": "nope"}, 404, "engine"),
    ("/v1/runs/r/cursors/x", {**CURSOR, "dtype": "int8"}, 422, "dtype"),
    ("/v1/runs/r/cursors/x", {**CURSOR, "params": {"scale": -1}}, 422, "scale"),
    ("/v1/runs/r/cursors/x", {**CURSOR, "spawn_key": "-1"}, 422, "spawn_key"),
    ("/v1/runs/r/cursors/bad name", CURSOR, 422, "cursor"),
    ("/v1/runs/r/cursors/missing/claims", {"count": 1}, 404, "cursor"),
    ("/v1/runs/r/cursors/made/claims", {"count": 0}, 422, "count"),
    ("/v1/runs/r/cursors/made/claims", {"count": 10**12}, 422, "count"),
    ("/v1/runs/r/cursors/made/claims", {"count": 1, "worker": "x" * 201}, 422, "worker"),
]


def test_bad_cursor_requests(app_client: TestClient) -> None:
    app_client.put(RUN.format("r"))
    app_client.put("/v1/runs/r/cursors/made", json=CURSOR)
    for path, body, status, parameter in BAD_CURSORS:
        method = app_client.post if path.endswith("claims") else app_client.put
        resp = method(path, json=body)
        assert resp.status_code == status, resp.text
        assert resp.json()["parameter"] == parameter


def test_restart_keeps_runs_and_cursors(db_url: str) -> None:
    first = TestClient(create_app(Settings(database_url=db_url)))
    run = first.put(RUN.format("keep")).json()
    first.put("/v1/runs/keep/cursors/c", json=CURSOR)
    first.post("/v1/runs/keep/cursors/c/claims", json={"count": 9})
    first.app.state.db.dispose()  # type: ignore[attr-defined]
    second = TestClient(create_app(Settings(database_url=db_url)))
    assert second.get(RUN.format("keep")).json() == run
    assert second.get("/v1/runs/keep/cursors/c").json()["position"] == 9
    assert second.post("/v1/runs/keep/cursors/c/claims",
                       json={"count": 1}).json()["offset"] == 9
    second.app.state.db.dispose()  # type: ignore[attr-defined]


def test_database_away_is_503_and_stateless_endpoints_work() -> None:
    client = TestClient(create_app(Settings(
        database_url="postgresql://postgres@127.0.0.1:9/test")))  # nothing listens on 9
    for method, path, body in [("PUT", "/v1/runs/x", None), ("GET", "/v1/runs", None),
                               ("GET", "/v1/runs/x", None),
                               ("POST", "/v1/runs/x/cursors/c/claims", {"count": 1}),
                               ("GET", "/v1/streams/numpy-pcg64/uniform?run=x&count=1", None),
                               ("GET", "/v1/seeds?run=x", None)]:
        resp = client.request(method, path, json=body)
        assert resp.status_code == 503, (path, resp.text)
        assert resp.headers["retry-after"] == "2"
        assert resp.json()["error"] == "unavailable"
    assert client.get("/v1/streams/numpy-pcg64/uniform",
                      params={"seed": 1, "count": 2}).status_code == 200
    assert client.get("/v1/seeds", params={"seed": 1, "spawn_key": 0}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_audit_trail(db_url: str) -> None:
    client = TestClient(create_app(Settings(database_url=db_url, audit=True)))
    client.put(RUN.format("aud"))
    client.get("/v1/streams/numpy-pcg64/uniform",
               params={"run": "aud", "spawn_key": "3", "offset": 10, "count": 5},
               headers={"X-Request-ID": "req-1"})
    client.get("/v1/seeds", params={"run": "aud", "spawn_key": "4"})
    client.get("/v1/states/numpy-pcg64/uniform", params={"run": "aud", "offset": 7})
    client.put("/v1/runs/aud/cursors/c", json=CURSOR)
    client.post("/v1/runs/aud/cursors/c/claims", json={"count": 6})
    client.get("/v1/streams/numpy-pcg64/uniform", params={"seed": 1, "count": 5})
    rows = client.get("/v1/runs/aud/audit").json()
    assert rows["enabled"] is True
    got = [(r["endpoint"], r["spawn_key"], r["offset"], r["count"]) for r in rows["rows"]]
    assert got == [
        ("GET /v1/streams/numpy-pcg64/uniform", "3", 10, 5),
        ("GET /v1/seeds", "4", None, None),
        ("GET /v1/states/numpy-pcg64/uniform", None, 7, None),
        ("POST /v1/runs/aud/cursors/c/claims", "2", 0, 6),
    ]
    assert rows["rows"][0]["request_id"] == "req-1"
    page = client.get("/v1/runs/aud/audit", params={"limit": 2}).json()
    rest = client.get("/v1/runs/aud/audit", params={"after": page["next_page"]}).json()
    assert page["rows"] + rest["rows"] == rows["rows"]
    off = TestClient(create_app(Settings(database_url=db_url)))
    off.get("/v1/seeds", params={"run": "aud"})
    assert off.get("/v1/runs/aud/audit").json() == {**rows, "enabled": False}


def test_run_on_permutations_samplers_and_inits(app_client: TestClient) -> None:
    """run= gives what seed= gives with the seed derived from the run (torch: uint64 of
    SeedSequence(run_seed)); permutations are checked against the libraries directly."""
    run_seed = app_client.put(RUN.format("perm")).json()["seed"]
    torch_seed = narrow_seed(run_seed, 64)
    body = app_client.get("/v1/permutations/numpy-pcg64",
                          params={"run": "perm", "n": 20, "spawn_key": "1"}).json()
    assert body["run"] == "perm"
    expected = np.random.default_rng(np.random.SeedSequence(run_seed, spawn_key=(1,)))
    assert body["values"] == expected.permutation(20).tolist()
    body = app_client.get("/v1/permutations/torch-cpu", params={"run": "perm", "n": 20}).json()
    g = torch.Generator().manual_seed(torch_seed)
    assert body["values"] == torch.randperm(20, generator=g).tolist()
    pairs: list[tuple[str, str, dict[str, Any], Any]] = [
        ("GET", "/v1/samplers/distributed", {"n": 10, "num_replicas": 2, "rank": 1}, None),
        ("GET", "/v1/samplers/dataloader", {"n": 10}, None),
        ("POST", "/v1/tensors/init", {}, {"init": "normal_", "shape": [3, 2]}),
        ("POST", "/v1/modules/init", {}, {"modules": [
            {"type": "Linear", "in_features": 3, "out_features": 2}]}),
    ]
    for method, path, params, body_ in pairs:
        by_run = app_client.request(
            method, path, params=params | ({"run": "perm"} if body_ is None else {}),
            json=None if body_ is None else body_ | {"run": "perm"})
        by_seed = app_client.request(
            method, path, params=params | ({"seed": torch_seed} if body_ is None else {}),
            json=None if body_ is None else body_ | {"seed": torch_seed})
        assert by_run.status_code == 200, (path, by_run.text)
        assert by_seed.status_code == 200, (path, by_seed.text)
        got = by_run.json()
        assert got.pop("run") == "perm"
        assert got == by_seed.json(), path
        both = app_client.request(
            method, path, params=params | ({"run": "perm", "seed": 1} if body_ is None else {}),
            json=None if body_ is None else body_ | {"run": "perm", "seed": 1})
        assert both.status_code == 422
        assert both.json()["parameter"] == "run"
