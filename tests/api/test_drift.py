"""Issue #11: the drift guard. With a perturbed engine, /readyz fails naming the streams that
no longer reproduce their known answers, and those streams answer 503; the others serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core import kat
from app.core.spec import GeneratorCursor
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_known_answers_cover_every_golden_stream_and_hold_here() -> None:
    golden = json.loads((ROOT / "tests" / "golden" / "streams.json").read_text())
    jax = json.loads((ROOT / "tests" / "golden" / "jax_streams.json").read_text())
    streams = {(e["engine"], e["distribution"], e["dtype"]) for e in golden["entries"]}
    streams |= {("jax-threefry", e["distribution"], e["dtype"]) for e in jax["entries"]}
    assert {(v["engine"], v["distribution"], v["dtype"]) for v in kat.vectors()} == streams
    for v in kat.vectors():  # each is the golden head of seed 7
        if v["engine"] == "jax-threefry":
            assert any(e["seed"] == 7 and e["offset"] == 0 and e["head"] == v["head"]
                       for e in jax["entries"]
                       if (e["distribution"], e["dtype"]) == (v["distribution"], v["dtype"]))
            continue
        assert any(e["seed"] == 7 and e["head"] == v["head"] and e["params"] == v["params"]
                   for e in golden["entries"] if (e["engine"], e["distribution"], e["dtype"])
                   == (v["engine"], v["distribution"], v["dtype"]))
    assert kat.check() == {}


@pytest.fixture
def perturbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy-pcg64 uniform float64 moved by one ulp: what another build could do."""
    draw = GeneratorCursor.draw

    def drifting(self: GeneratorCursor[Any, Any], n: int) -> Any:
        out = draw(self, n)
        s = self.stream
        if (s.engine.name, s.dist.name, s.dtype.name) == ("numpy-pcg64", "uniform", "float64"):
            return np.nextafter(out, np.inf)
        return out

    monkeypatch.setattr(GeneratorCursor, "draw", drifting)


def test_a_drifted_stream_is_refused_and_readyz_names_it(perturbed: None) -> None:
    c = TestClient(create_app())
    r = c.get("/readyz")
    assert r.status_code == 503
    assert list(r.json()["detail"]["drifted"]) == ["numpy-pcg64/uniform/float64"]
    url = "/v1/streams/numpy-pcg64/uniform"
    refused = c.get(url, params={"seed": 1, "count": 3})  # float64 is the default dtype
    assert refused.status_code == 503
    assert refused.json()["error"] == "drifted"
    assert "numpy-pcg64 uniform float64" in refused.json()["message"]
    assert c.get(url, params={"seed": 1, "count": 3, "dtype": "float64"}).status_code == 503
    assert c.get("/v1/states/numpy-pcg64/uniform", params={"seed": 1}).status_code == 503
    # the other streams, and the other dtypes of this one, still serve
    assert c.get(url, params={"seed": 1, "count": 3, "dtype": "float32"}).status_code == 200
    assert c.get("/v1/streams/numpy-pcg64/normal", params={"seed": 1, "count": 3}
                 ).status_code == 200
    assert c.get("/v1/streams/numpy-legacy/uniform", params={"seed": 1, "count": 3}
                 ).status_code == 200


def test_readyz_is_ready_without_drift(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["detail"]["known_answers"] == len(kat.vectors())
