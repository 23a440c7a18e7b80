"""Adding an engine is one module and one registry line: the toy engine of
``tests/support/toy.py`` (a splitmix64 counter generator, defined nowhere else) registered
with ``registry.register`` is served end to end, with no edit anywhere in the service: slices
in every format at any offset, its reference code, ``/v1/engines``, OpenAPI, the client."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core import registry
from app.main import create_app
from seed_authority_client import Authority
from tests.support.toy import ToyRng, toy_engine

NAME = "toy-splitmix"
PATH = f"/v1/streams/{NAME}/uniform"


@pytest.fixture
def client() -> Iterator[TestClient]:
    engine = registry.register(toy_engine())
    try:
        with TestClient(create_app()) as http:
            yield http
    finally:
        registry.unregister(engine.name)


def want(seed: int, offset: int, count: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """The toy library called directly: elements [offset, offset + count)."""
    return ToyRng(seed, offset).uniform(low, high, count)


def test_slices_in_every_format_are_the_librarys_values(client: TestClient) -> None:
    query = {"seed": 7, "offset": 5, "count": 10, "low": -2.0, "high": 3.0}
    body = client.get(PATH, params=query).json()
    assert body["engine"] == NAME
    assert np.array_equal(np.array(body["values"], dtype=np.float64),
                          want(7, 5, 10, -2.0, 3.0))
    scope: dict[str, object] = {}
    exec(body["reference"], scope)  # the reference code runs the toy library itself
    assert np.array_equal(np.asarray(scope["x"]), want(7, 5, 10, -2.0, 3.0))
    npy = client.get(PATH, params={**query, "format": "npy"})
    assert np.array_equal(np.load(io.BytesIO(npy.content)), want(7, 5, 10, -2.0, 3.0))
    raw = client.get(PATH, params={**query, "format": "raw"})
    assert raw.headers["etag"]
    assert raw.headers["x-next-offset"] == "15"
    assert np.array_equal(np.frombuffer(raw.content, dtype="<f8"), want(7, 5, 10, -2.0, 3.0))


def test_far_offsets_by_its_counter_and_slices_concatenate(client: TestClient) -> None:
    far = client.get(PATH, params={"seed": 1, "offset": 10**15, "count": 4, "format": "raw"})
    assert np.array_equal(np.frombuffer(far.content, dtype="<f8"), want(1, 10**15, 4))
    parts = [client.get(PATH, params={"seed": 3, "offset": a, "count": b - a, "format": "raw"})
             for a, b in ((0, 3), (3, 100), (100, 101))]
    joined = np.concatenate([np.frombuffer(p.content, dtype="<f8") for p in parts])
    assert np.array_equal(joined, want(3, 0, 101))


def test_listed_documented_and_validated_like_any_engine(client: TestClient) -> None:
    listed = {e["name"]: e for e in client.get("/v1/engines").json()["engines"]}
    toy = listed[NAME]
    assert toy["bit_generator"] == "splitmix64"
    assert [d["name"] for d in toy["distributions"]] == ["uniform"]
    assert toy["distributions"][0]["access"] == "direct"
    doc = client.get("/openapi.json").json()
    engine = next(p for p in doc["paths"]["/v1/streams/{engine}/{distribution}"]["get"]
                  ["parameters"] if p["name"] == "engine")
    assert NAME in engine["schema"]["enum"]
    bad = client.get(PATH, params={"seed": 1, "count": 1, "low": 2.0, "high": 1.0})
    assert (bad.status_code, bad.json()["parameter"]) == (422, "high")
    # it declares no state export: no handoff, said so by name
    state = client.get(f"/v1/states/{NAME}/uniform", params={"seed": 1})
    assert (state.status_code, state.json()["parameter"]) == (422, "engine")


def test_the_client_streams_it(client: TestClient) -> None:
    with Authority(client=client, backoff=0) as authority:
        got = authority.stream(NAME, "uniform", seed=9)[2:40]
    assert np.array_equal(got, want(9, 2, 38))


def test_register_and_unregister() -> None:
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.ENGINES["numpy-legacy"])
    registry.register(toy_engine())
    registry.unregister(NAME)
    with TestClient(create_app()) as http:
        assert http.get(PATH, params={"seed": 1, "count": 1}).status_code == 422
        assert NAME not in {e["name"] for e in http.get("/v1/engines").json()["engines"]}
