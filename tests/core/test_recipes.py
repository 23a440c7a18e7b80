"""Framework seeding recipes against values recorded from Lightning's and Accelerate's own
code (scripts/record_framework_seeds.py), and through GET /v1/seeds."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.core.recipes import accelerate_set_seed, lightning_seed_everything, lightning_worker

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "framework_seeds.json").read_text())


def _observed(torch_seed: int, python_seed: int, numpy_seed: Any) -> dict[str, Any]:
    g = torch.Generator().manual_seed(torch_seed)
    return {"torch_initial_seed": g.initial_seed(),
            "python_random": random.Random(python_seed).random(),
            "numpy_randint": int(np.random.RandomState(numpy_seed).randint(0, 2**31))}


def _recorded(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("torch_initial_seed", "python_random", "numpy_randint")}


@pytest.mark.parametrize("entry", GOLDEN["lightning"], ids=lambda e: e["call"])
def test_lightning(entry: dict[str, Any]) -> None:
    if entry["call"] == "seed_everything":
        s = lightning_seed_everything(entry["seed"])
    else:
        s = lightning_worker(entry["base_seed"], entry["worker_id"], entry["rank"])
    assert _observed(s["torch"], s["python"], s["numpy"]) == _recorded(entry)


@pytest.mark.parametrize("entry", GOLDEN["accelerate"], ids=lambda e: str(e["process_index"]))
def test_accelerate(entry: dict[str, Any]) -> None:
    s = accelerate_set_seed(entry["seed"], entry["process_index"], entry["device_specific"])
    assert _observed(s["torch"], s["python"], s["numpy"]) == _recorded(entry)


def test_out_of_range_seeds_are_reported_not_served() -> None:
    assert "ValueError" in lightning_seed_everything(2**32)["error"]
    assert "ValueError" in accelerate_set_seed(2**32 - 1, 1)["error"]


def test_seeds_endpoint_lists_the_frameworks(client: TestClient) -> None:
    body = client.get("/v1/seeds", params={"seed": 42, "rank": 3, "worker_id": 1,
                                           "base_seed": 1234}).json()
    fw = body["frameworks"]
    assert fw["accelerate"]["set_seed"]["torch"] == 45
    assert fw["lightning"]["seed_everything"]["numpy"] == 42
    assert fw["lightning"]["worker"] == lightning_worker(1234, 1, 3)
    assert "worker" not in client.get("/v1/seeds", params={"seed": 42}).json()[
        "frameworks"]["lightning"]
    bad = client.get("/v1/seeds", params={"seed": 1, "worker_id": -1})
    assert bad.status_code == 422
    assert bad.json()["parameter"] == "worker_id"
