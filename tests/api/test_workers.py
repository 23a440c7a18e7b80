"""Worker streams (spawn keys), generator-state handoff and the seed-everything recipe."""

from __future__ import annotations

import base64
import random
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.dtypes import DTYPES
from app.core.registry import ENGINES
from tests.support.oracle import BIT_GENERATORS, reference, same_bits
from tests.support.strategies import CORE_ENTRIES, params_for


def spawned(seed: int, key: tuple[int, ...]) -> np.random.SeedSequence:
    """The SeedSequence numpy's own spawn() hands to worker key (nested keys: spawn again)."""
    seq = np.random.SeedSequence(seed)
    for k in key:
        seq = seq.spawn(k + 1)[k]
    return seq


def derived_int(seed: int, key: tuple[int, ...], bits: int) -> int:
    return int(spawned(seed, key).generate_state(1, np.uint32 if bits == 32 else np.uint64)[0])


def worker_reference(engine: str, dist: str, seed: int, key: tuple[int, ...], n: int,
                     dtype: str, params: dict[str, Any]) -> np.ndarray:
    if engine in BIT_GENERATORS:  # the Generator gets the spawned SeedSequence itself
        rng = np.random.Generator(BIT_GENERATORS[engine](spawned(seed, key)))
        if dist == "uniform":
            return rng.random(n, dtype=np.float32) if dtype == "float32" else rng.uniform(
                params["low"], params["high"], n)
        if dist == "normal":
            return rng.standard_normal(n, dtype=np.float32) if dtype == "float32" else (
                rng.normal(params["loc"], params["scale"], n))
        return rng.integers(params["low"], params["high"], n, dtype=dtype)
    bits = 32 if engine == "numpy-legacy" else 64
    return reference(engine, dist, derived_int(seed, key, bits), n, dtype, params)


@settings(max_examples=60)
@given(data=st.data(), entry=st.sampled_from(CORE_ENTRIES), seed=st.integers(0, 2**32 - 1),
       key=st.lists(st.integers(0, 9), min_size=1, max_size=3), offset=st.integers(0, 300),
       count=st.integers(0, 100))
def test_spawn_key_streams_are_numpys_spawned_streams(data: st.DataObject,
                                                      entry: tuple[str, str, str], seed: int,
                                                      key: list[int], offset: int,
                                                      count: int) -> None:
    from app.core.streams import StreamService

    engine, dist, dtype = entry
    params = data.draw(params_for(engine, dist, dtype))
    got = StreamService().slice(engine, dist, seed, offset, count, dtype, tuple(key), **params)
    expected = worker_reference(engine, dist, seed, tuple(key), offset + count, dtype, params)
    assert same_bits(got, expected[offset:])


def test_spawn_key_over_http_and_issue_example(client: TestClient) -> None:
    body = client.get("/v1/streams/numpy-pcg64/uniform",
                      params={"seed": 7, "spawn_key": "3", "count": 5}).json()
    expected = np.random.default_rng(np.random.SeedSequence(7).spawn(4)[3]).uniform(0, 1, 5)
    assert body["values"] == expected.tolist()
    assert body["spawn_key"] == [3]
    scope: dict[str, Any] = {}
    exec(body["reference"], scope)
    assert scope["x"].tolist() == body["values"]
    plain = client.get("/v1/streams/numpy-pcg64/uniform", params={"seed": 7, "count": 5})
    assert plain.json()["values"] != body["values"]
    assert plain.headers["etag"] != client.get(
        "/v1/streams/numpy-pcg64/uniform",
        params={"seed": 7, "spawn_key": "3", "count": 5}).headers["etag"]
    for bad in ("-1", "a", "1,,2", ",".join(["1"] * 40)):
        resp = client.get("/v1/streams/numpy-pcg64/uniform",
                          params={"seed": 7, "spawn_key": bad, "count": 5})
        assert resp.status_code == 422, bad
        assert resp.json()["parameter"] == "spawn_key"


def _restore_and_draw(body: dict[str, Any], n: int) -> np.ndarray:
    scope: dict[str, Any] = {"state": body["state"]}
    code = body["restore"] + body["continue"].replace("n = 1000", f"n = {n}")
    exec(code, scope)
    x = scope["x"]
    if isinstance(x, torch.Tensor):
        return x.view(torch.int16).numpy().view(np.uint16) if x.dtype == torch.bfloat16 else (
            x.numpy())
    dtype = np.int64 if isinstance(x, list) and x and isinstance(x[0], int) else None
    return np.asarray(x, dtype=dtype)


@pytest.mark.parametrize(("engine", "dist", "dtype"), CORE_ENTRIES)
def test_state_handoff_continues_the_stream(client: TestClient, engine: str, dist: str,
                                            dtype: str) -> None:
    spec = ENGINES[engine].distributions[dist]
    params: dict[str, Any] = {p.name: p.default for p in spec.params if p.default is not None}
    if dist == "integers":
        params["low"], params["high"] = 0, min(1000, int(DTYPES[dtype].max) + 1)
    if ENGINES[engine].state is None:
        resp = client.get(f"/v1/states/{engine}/{dist}", params={"seed": 1, **params,
                                                                 "dtype": dtype})
        assert resp.status_code == 422
        assert resp.json()["parameter"] == "engine"
        return
    n = 3000 if engine == "python-random" else 50_000
    for offset, key in ((0, None), (777, None), (n - 1000, "2,5")):
        query = {"seed": 99, "offset": offset, "dtype": dtype, **params}
        if key:
            query["spawn_key"] = key
        body = client.get(f"/v1/states/{engine}/{dist}", params=query).json()
        start, skip = body["block_start"], body["skip"]
        assert start + skip == offset
        draw = 1008 if spec.block > 1 else 1000
        local = _restore_and_draw(body, draw)
        # against the libraries themselves, not the service's own slice
        stop = start + draw
        expected = (worker_reference(engine, dist, 99, (2, 5), stop, dtype, params) if key
                    else reference(engine, dist, 99, stop, dtype, params))[offset:]
        assert same_bits(local, expected), offset


def test_torch_state_bytes_raw(client: TestClient) -> None:
    query = {"seed": 5, "offset": 10**12 + 3}
    raw = client.get("/v1/states/torch-cpu/uniform", params={**query, "format": "raw"})
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["x-skip"] == "0"
    g = torch.Generator()
    g.set_state(torch.frombuffer(bytearray(raw.content), dtype=torch.uint8))
    served = client.get("/v1/streams/torch-cpu/uniform",
                        params={**query, "count": 100, "format": "raw"}).content
    assert torch.rand(100, generator=g).numpy().tobytes() == served
    js = client.get("/v1/states/torch-cpu/uniform", params=query).json()
    assert base64.b64decode(js["state"]) == raw.content
    bad = client.get("/v1/states/numpy-legacy/uniform", params={**query, "format": "raw"})
    assert bad.status_code == 422
    assert bad.json()["parameter"] == "format"


def test_seeds_and_the_recipe(client: TestClient) -> None:
    body = client.get("/v1/seeds", params={"seed": 1234, "spawn_key": "2"}).json()
    assert body["seeds"]["numpy-legacy"] == derived_int(1234, (2,), 32)
    assert body["seeds"]["torch-cpu"] == derived_int(1234, (2,), 64)
    assert body["seeds"]["python-random"] == derived_int(1234, (2,), 64)
    assert body["seeds"]["numpy-pcg64"] == "np.random.SeedSequence(1234, spawn_key=(2,))"
    # by role, as the client's seed_everything reads them (no engine names)
    assert body["framework_seeds"] == {
        "numpy": body["seeds"]["numpy-legacy"], "python": body["seeds"]["python-random"],
        "torch": body["seeds"]["torch-cpu"], "numpy_generator": body["seeds"]["numpy-pcg64"]}
    codes = [step["code"] for step in body["recipe"]]
    for needle in ("random.seed", "np.random.seed", "torch.manual_seed",
                   "torch.cuda.manual_seed_all", "cudnn.deterministic = True",
                   "cudnn.benchmark = False", "use_deterministic_algorithms(True)",
                   "CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED"):
        assert any(needle in c for c in codes), needle
    assert all(step["fixes"] and step["costs"] for step in body["recipe"])
    # Run the recipe in a fresh interpreter: its global generators give the worker's streams.
    probe = body["code"] + ("print(random.random()); print(float(np.random.rand())); "
                            "print(float(torch.rand(1)[0]))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert float(out[0]) == random.Random(derived_int(1234, (2,), 64)).random()
    assert float(out[1]) == np.random.RandomState(derived_int(1234, (2,), 32)).rand()
    assert float(out[2]) == float(torch.rand(1, generator=torch.Generator().manual_seed(
        derived_int(1234, (2,), 64)))[0])
    assert client.get("/v1/seeds", params={"seed": 2**40}).status_code == 422
    assert client.get("/v1/seeds", params={"seed": 5}).json()["seeds"]["numpy-legacy"] == 5
