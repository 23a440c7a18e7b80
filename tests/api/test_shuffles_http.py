"""The permutation and sampler endpoints over HTTP: formats, headers, ETag, errors, docs."""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from torch.utils.data import DataLoader
from torch.utils.data._utils.worker import _generate_state

from app.config import Settings
from app.main import create_app
from tests.support import shuffle_oracle

CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("/v1/permutations/torch-cpu", {"n": 1000, "seed": 3},
     shuffle_oracle.permutation("torch-cpu", 1000, 3).tolist()),
    ("/v1/permutations/numpy-legacy", {"n": 1000, "seed": 3},
     shuffle_oracle.permutation("numpy-legacy", 1000, 3).tolist()),
    ("/v1/permutations/numpy-pcg64", {"n": 1000, "seed": 2**100, "spawn_key": "2"},
     shuffle_oracle.permutation("numpy-pcg64", 1000, 2**100, (2,)).tolist()),
    ("/v1/permutations/python-random", {"n": 1000, "seed": 3},
     shuffle_oracle.permutation("python-random", 1000, 3).tolist()),
    ("/v1/samplers/distributed", {"n": 1001, "num_replicas": 4, "rank": 3, "seed": 5,
                                  "epoch": 7},
     shuffle_oracle.distributed(1001, 4, 3, 5, 7, True, False)[0]),
    ("/v1/samplers/distributed", {"n": 1001, "num_replicas": 4, "rank": 1, "drop_last": True,
                                  "shuffle": False},
     shuffle_oracle.distributed(1001, 4, 1, 0, 0, False, True)[0]),
    ("/v1/samplers/dataloader", {"n": 1000, "seed": 8, "epoch": 2, "num_workers": 2},
     shuffle_oracle.loader_epochs(1000, 8, 3)[2]),
]


def _decode(resp: Any) -> list[int]:
    ctype = resp.headers["content-type"]
    if ctype.startswith("application/json"):
        return [int(v) for v in resp.json()["values"]]
    if ctype == "application/x-npy":
        return [int(v) for v in np.load(io.BytesIO(resp.content))]
    return [int(v) for v in np.frombuffer(resp.content, dtype=resp.headers["x-dtype"])]


@pytest.mark.parametrize(("path", "query", "expected"), CASES)
def test_every_format_gives_the_library_order(client: TestClient, path: str,
                                              query: dict[str, Any],
                                              expected: list[int]) -> None:
    offset, count = 17, len(expected) - 40
    for fmt in ("json", "npy", "raw"):
        for dtype in ("int64", "int32"):
            resp = client.get(path, params={**query, "offset": offset, "count": count,
                                            "format": fmt, "dtype": dtype})
            assert resp.status_code == 200, resp.text
            assert _decode(resp) == expected[offset:offset + count], (fmt, dtype)
            assert resp.headers["x-offset"] == str(offset)
            assert resp.headers["x-count"] == str(count)
            assert resp.headers["x-next-offset"] == str(offset + count)
            assert resp.headers["x-total"] == str(len(expected))
            assert resp.headers["x-dtype"] == dtype
            assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    whole = client.get(path, params=query).json()  # count defaults to the rest
    assert whole["values"] == expected
    scope: dict[str, Any] = {}
    exec(whole["reference"], scope)
    assert [int(v) for v in scope["x"]] == expected
    resp = client.get(path, params=query, headers={"Accept": "application/x-npy"})
    assert resp.headers["content-type"] == "application/x-npy"


def test_etag_and_304(client: TestClient) -> None:
    query = {"n": 100, "seed": 1, "offset": 5, "count": 10}
    first = client.get("/v1/permutations/torch-cpu", params=query)
    etag = first.headers["etag"]
    other = TestClient(create_app())
    assert other.get("/v1/permutations/torch-cpu", params=query).headers["etag"] == etag
    again = client.get("/v1/permutations/torch-cpu", params=query,
                       headers={"If-None-Match": etag})
    assert again.status_code == 304
    for change in ({"seed": 2}, {"n": 101}, {"offset": 6}, {"count": 9}, {"dtype": "int32"}):
        resp = client.get("/v1/permutations/torch-cpu", params={**query, **change})
        assert resp.headers["etag"] != etag
    assert client.get("/v1/permutations/numpy-legacy", params=query).headers["etag"] != etag


def test_dataloader_json_carries_the_seeds(client: TestClient) -> None:
    body = client.get("/v1/samplers/dataloader",
                      params={"n": 30, "seed": 4, "epoch": 1, "num_workers": 2}).json()
    g = torch.Generator().manual_seed(4)
    dataset: Any = range(30)
    loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g, batch_size=None)
    list(loader)
    base = iter(loader)._base_seed
    assert body["base_seed"] == base
    assert body["workers"] == [
        {"worker_id": w, "torch_seed": base + w, "python_seed": base + w,
         "numpy_seed": list(_generate_state(base, w))}  # type: ignore[no-untyped-call]
        for w in range(2)]
    assert body["words"] == {"base_seed_at": 60, "permutation_at": 62, "randperm_words": 29,
                             "epoch_words": 60}
    assert body["num_samples"] == 30


def test_distributed_json_carries_sizes(client: TestClient) -> None:
    body = client.get("/v1/samplers/distributed",
                      params={"n": 10, "num_replicas": 4, "rank": 1, "drop_last": True}).json()
    assert (body["num_samples"], body["total_size"]) == (2, 8)


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/permutations/nope", {"n": 5, "seed": 1}, "engine"),
    ("/v1/permutations/torch-cuda", {"n": 5, "seed": 1}, "engine"),
    ("/v1/permutations/torch-cpu", {"seed": 1}, "n"),
    ("/v1/permutations/torch-cpu", {"n": -1, "seed": 1}, "n"),
    ("/v1/permutations/torch-cpu", {"n": 10**10, "seed": 1}, "n"),
    ("/v1/permutations/torch-cpu", {"n": 5 * 10**8, "seed": 1}, "n"),
    ("/v1/permutations/python-random", {"n": 10**8, "seed": 1}, "n"),
    ("/v1/permutations/torch-cpu", {"n": 5}, "seed"),
    ("/v1/permutations/numpy-legacy", {"n": 5, "seed": 2**32}, "seed"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "offset": 6}, "offset"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "offset": 2, "count": 4}, "count"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "count": -1}, "count"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "dtype": "int16"}, "dtype"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "format": "xml"}, "format"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "spawn_key": "a"}, "spawn_key"),
    ("/v1/permutations/torch-cpu", {"n": 5, "seed": 1, "sead": 1}, "sead"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 0, "rank": 0}, "num_replicas"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 2, "rank": 2}, "rank"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 2}, "rank"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 2, "rank": 0, "shuffle": "maybe"},
     "shuffle"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 2, "rank": 0, "seed": 2**64 - 1,
                                  "epoch": 1}, "epoch"),
    ("/v1/samplers/distributed", {"n": 5, "num_replicas": 2, "rank": 0, "count": 4}, "count"),
    ("/v1/samplers/dataloader", {"n": 0, "seed": 1}, "n"),
    ("/v1/samplers/dataloader", {"n": 5, "seed": 2**64}, "seed"),
    ("/v1/samplers/dataloader", {"n": 5, "seed": 1, "persistent_workers": True},
     "persistent_workers"),
    ("/v1/samplers/dataloader", {"n": 5, "seed": 1, "num_workers": 10**6}, "num_workers"),
    ("/v1/samplers/dataloader", {"n": 5, "seed": 1, "epoch": 2**60}, "epoch"),
    ("/v1/samplers/dataloader", {"n": 5, "seed": 1, "batch_size": 0}, "batch_size"),
]


@pytest.mark.parametrize(("path", "query", "parameter"), BAD)
def test_bad_input_is_a_clear_4xx(client: TestClient, path: str, query: dict[str, Any],
                                  parameter: str) -> None:
    resp = client.get(path, params=query)
    assert 400 <= resp.status_code < 500, resp.text
    body = resp.json()
    assert body["parameter"] == parameter, body
    assert body["message"].startswith(f"{parameter}:")


def test_limits_are_configurable() -> None:
    c = TestClient(create_app(Settings(max_permutation_n=100, max_count=10)))
    assert c.get("/v1/permutations/torch-cpu", params={"n": 100, "seed": 1,
                                                      "count": 10}).status_code == 200
    assert c.get("/v1/permutations/torch-cpu",
                 params={"n": 101, "seed": 1, "count": 1}).json()["parameter"] == "n"
    assert c.get("/v1/permutations/torch-cpu",
                 params={"n": 100, "seed": 1}).json()["parameter"] == "count"
    info = c.get("/v1/permutations").json()
    assert info["limits"]["max_n"] == 100
    assert {e["engine"] for e in info["engines"]} >= {"torch-cpu", "numpy-legacy",
                                                      "numpy-pcg64", "python-random"}


def test_streamed_large_slice(client: TestClient) -> None:
    c = TestClient(create_app(Settings(chunk_bytes=4096)))
    resp = c.get("/v1/permutations/numpy-pcg64", params={"n": 50_000, "seed": 1,
                                                         "format": "raw"})
    assert resp.headers["content-length"] == str(50_000 * 8)
    assert np.array_equal(np.frombuffer(resp.content, dtype="<i8"),
                          np.random.default_rng(1).permutation(50_000))


def test_requests_never_touch_global_rng_state(client: TestClient) -> None:
    np_state = np.random.get_state(legacy=False)
    py_state, t_state = random.getstate(), torch.get_rng_state()
    for path, query, _ in CASES:
        client.get(path, params=query)
    assert py_state == random.getstate()
    after = np.random.get_state(legacy=False)
    assert np.array_equal(np_state["state"]["key"], after["state"]["key"])
    assert torch.equal(t_state, torch.get_rng_state())
