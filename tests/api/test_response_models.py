"""Every endpoint's JSON answers match its OpenAPI response schema, strictly.

Walks ``app.openapi()`` (not ``app.routes``: included routers are wrapped here), calls every
operation with a valid example request (``EXAMPLES``: a new endpoint fails here until it has
one) and validates each JSON body against the schema documented for its status code. Objects
that list their properties are closed (``additionalProperties: false`` unless the model says
otherwise), so a field that is sent but not documented fails as a missing one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from app.config import Settings
from app.main import create_app

Json = dict[str, Any]
RUN, CURSOR = "response-models", "c"
EXAMPLES: dict[tuple[str, str], list[Json]] = {
    # (method, path) -> requests: {"path": {...}, "query": {...}, "json": ...}, in order
    ("PUT", "/v1/runs/{name}"): [{"path": {"name": RUN}, "json": {"note": "n"}}],
    ("GET", "/v1/runs/{name}"): [{"path": {"name": RUN}}],
    ("GET", "/v1/runs"): [{}],
    ("PUT", "/v1/runs/{run}/cursors/{cursor}"): [{
        "path": {"run": RUN, "cursor": CURSOR},
        "json": {"engine": "numpy-pcg64", "distribution": "uniform"}}],
    ("GET", "/v1/runs/{run}/cursors/{cursor}"): [{"path": {"run": RUN, "cursor": CURSOR}}],
    ("GET", "/v1/runs/{run}/cursors"): [{"path": {"run": RUN}}],
    ("POST", "/v1/runs/{run}/cursors/{cursor}/claims"): [{
        "path": {"run": RUN, "cursor": CURSOR}, "json": {"count": 10, "worker": "w"}}],
    ("GET", "/v1/runs/{run}/cursors/{cursor}/claims"): [{"path": {"run": RUN,
                                                                   "cursor": CURSOR}}],
    ("GET", "/v1/runs/{run}/cursors/{cursor}/claims/{claim_id}"): [{
        "path": {"run": RUN, "cursor": CURSOR, "claim_id": "{claim}"}}],
    ("GET", "/v1/runs/{run}/audit"): [{"path": {"run": RUN}}],
    ("GET", "/v1/streams/{engine}/{distribution}"): [
        {"path": {"engine": "numpy-legacy", "distribution": "uniform"},
         "query": {"seed": 1, "count": 3}},
        {"path": {"engine": "torch-cuda", "distribution": "uniform"},  # local_call
         "query": {"seed": 1, "count": 3}},
        {"path": {"engine": "jax-threefry", "distribution": "randint"},
         "query": {"seed": 1, "count": 3, "minval": 0, "maxval": 5}},
        {"path": {"engine": "numpy-pcg64", "distribution": "integers"},
         "query": {"run": RUN, "count": 3, "low": 0, "high": 9}},
    ],
    ("GET", "/v1/states/{engine}/{distribution}"): [
        {"path": {"engine": "numpy-legacy", "distribution": "uniform"},
         "query": {"seed": 1, "offset": 5}},
        {"path": {"engine": "torch-cpu", "distribution": "normal"},
         "query": {"run": RUN, "offset": 20}},
    ],
    ("GET", "/v1/seeds"): [{"query": {"seed": 1, "spawn_key": "2"}},
                           {"query": {"run": RUN, "rank": 1, "worker_id": 0,
                                      "base_seed": 5}}],
    ("POST", "/v1/tensors/init"): [
        {"json": {"seed": 1, "init": "normal_", "shape": [2, 3]}},
        {"json": {"run": RUN, "init": "trunc_normal_", "shape": [4], "args": {"std": 0.5}}}],
    ("POST", "/v1/modules/init"): [{"json": {"run": RUN, "modules": [
        {"type": "Linear", "in_features": 3, "out_features": 2}]}}],
    ("GET", "/v1/inits"): [{}],
    ("POST", "/v1/calls"): [{"json": {"engine": "numpy-legacy", "seed": 7, "calls": [
        {"fn": "rand", "args": [3]}]}}],
    ("GET", "/v1/calls"): [{}],
    ("GET", "/v1/permutations/{engine}"): [
        {"path": {"engine": "torch-cpu"}, "query": {"n": 10, "seed": 1}},
        {"path": {"engine": "numpy-legacy"}, "query": {"n": 10, "run": RUN, "count": 4}}],
    ("GET", "/v1/permutations"): [{}],
    ("GET", "/v1/samplers/distributed"): [
        {"query": {"n": 10, "num_replicas": 2, "rank": 1, "seed": 3}},
        {"query": {"n": 10, "num_replicas": 2, "rank": 0, "run": RUN}}],
    ("GET", "/v1/samplers/dataloader"): [
        {"query": {"n": 10, "seed": 3, "num_workers": 2, "batch_size": 2}},
        {"query": {"n": 10, "run": RUN}}],
    ("GET", "/v1/engines"): [{}],
    ("GET", "/healthz"): [{}],
    ("GET", "/readyz"): [{}],
    ("GET", "/metrics"): [{}],
}


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[TestClient, Json]]:
    with TestClient(create_app(Settings(max_count=100_000))) as client:
        yield client, client.get("/openapi.json").json()


def closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def operations(doc: Json) -> Iterator[tuple[str, str, Json]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def test_every_operation_has_an_example(api: tuple[TestClient, Json]) -> None:
    listed = {(m, p) for m, p, _ in operations(api[1])}
    assert listed == set(EXAMPLES), (listed - set(EXAMPLES), set(EXAMPLES) - listed)


def test_every_json_answer_matches_its_documented_schema(
        api: tuple[TestClient, Json]) -> None:
    client, doc = api
    components = closed(doc["components"])
    checked = 0
    made: dict[str, int] = {}  # ids the service assigns (a claim's)
    # runs first: later requests name the run and its cursor
    for method, path, op in sorted(operations(doc), key=lambda o: "/runs" not in o[1]):
        for example in EXAMPLES[(method, path)]:
            url = path.format(**{k: str(v).format(**made)
                                 for k, v in example.get("path", {}).items()})
            resp = client.request(method, url, params=example.get("query"),
                                  json=example.get("json"))
            assert 200 <= resp.status_code < 300, (method, url, resp.status_code, resp.text)
            if path.endswith("/claims") and method == "POST":
                made["claim"] = resp.json()["id"]
            documented = op["responses"].get(str(resp.status_code))
            assert documented is not None, (method, path, resp.status_code)
            media = resp.headers["content-type"].split(";")[0]
            if media != "application/json":
                continue
            schema = documented.get("content", {}).get("application/json", {}).get("schema")
            assert schema, f"{method} {path} {resp.status_code}: JSON body without a schema"
            validator = Draft202012Validator({**closed(schema), "components": components})
            errors = sorted(validator.iter_errors(resp.json()), key=lambda e: e.json_path)
            assert not errors, (method, url, [f"{e.json_path}: {e.message}"[:300]
                                              for e in errors[:5]])
            checked += 1
    assert checked >= len(EXAMPLES) - 1  # /metrics is text
