"""Tensor and module initialisations against torch called directly."""

from __future__ import annotations

import io
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, get_args

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load as safetensors_load
from torch import nn

from app.config import Settings
from app.core.inits.modules import MODULES
from app.core.inits.tensors import INITS
from app.core.torch_dtypes import FLOATS
from app.main import create_app
from app.schemas import FloatDType

# (init, shape, args): written out here, independently of the service's tables.
INIT_CASES: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("uniform_", (7,), {}),
    ("uniform_", (3, 5), {"a": -0.5, "b": 2.0}),
    ("normal_", (33,), {}),
    ("normal_", (4, 5, 3), {"mean": 1.0, "std": 0.02}),
    ("trunc_normal_", (8, 9), {}),
    ("trunc_normal_", (50,), {"mean": 0.5, "std": 1.0, "a": 0.0, "b": 0.7}),
    ("xavier_uniform_", (6, 4), {}),
    ("xavier_uniform_", (8, 3, 3, 3), {"gain": 1.4142135623730951}),
    ("xavier_normal_", (6, 4), {"gain": 0.5}),
    ("kaiming_uniform_", (10, 10), {"a": math.sqrt(5)}),
    ("kaiming_uniform_", (16, 3, 5), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (12, 7), {}),
    ("kaiming_normal_", (4, 2, 3, 3), {"a": 0.1, "nonlinearity": "leaky_relu",
                                       "mode": "fan_in"}),
    ("orthogonal_", (5, 8), {}),
    ("orthogonal_", (9, 2, 2), {"gain": 2.0}),
    ("sparse_", (10, 6), {"sparsity": 0.3}),
    ("sparse_", (4, 4), {"sparsity": 0.9, "std": 0.5}),
    ("constant_", (3, 4), {"val": 0.25}),
    ("zeros_", (5,), {}),
    ("ones_", (2, 3), {}),
    ("eye_", (3, 5), {}),
    ("dirac_", (4, 2, 3), {}),
    ("dirac_", (6, 3, 3, 3), {"groups": 2}),
]
DTYPES = list(FLOATS)


def test_the_request_models_float_dtypes_are_torchs() -> None:
    """The schema's literal (for OpenAPI) is the one list in app/core/torch_dtypes.py."""
    assert get_args(FloatDType) == FLOATS


RANDOM = {"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
          "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"}


def direct_init(init: str, seed: int, shape: tuple[int, ...], dtype: str,
                args: dict[str, Any]) -> torch.Tensor:
    t = torch.empty(shape, dtype=getattr(torch, dtype))
    fn = getattr(nn.init, init)
    if init not in RANDOM:
        fn(t, **args)
        return t
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # sparse_'s randperm reads the global generator
        fn(t, **args, generator=g)
    return t


def bits(t: torch.Tensor) -> bytes:
    return bytes(t.contiguous().reshape(-1).view(torch.uint8).numpy())


def test_every_init_is_tested() -> None:
    assert {c[0] for c in INIT_CASES} == set(INITS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("init", "shape", "args"), INIT_CASES)
def test_tensor_init_matches_torch(client: TestClient, init: str, shape: tuple[int, ...],
                                   args: dict[str, Any], dtype: str) -> None:
    if init == "orthogonal_" and dtype in ("float16", "bfloat16"):
        resp = client.post("/v1/tensors/init", json={"seed": 1, "init": init,
                                                     "shape": list(shape), "dtype": dtype})
        assert resp.status_code == 422
        assert resp.json()["parameter"] == "dtype"
        return
    for seed in (0, 42, 2**64 - 1):
        expected = direct_init(init, seed, shape, dtype, args)
        body = {"seed": seed, "init": init, "shape": list(shape), "dtype": dtype, "args": args}
        resp = client.post("/v1/tensors/init", json=body, params={"format": "safetensors"})
        assert resp.status_code == 200, resp.text
        got = safetensors_load(resp.content)["tensor"]
        assert got.dtype == expected.dtype
        assert got.shape == expected.shape
        assert bits(got) == bits(expected)


def test_json_and_npz_carry_the_same_bits(client: TestClient) -> None:
    body = {"seed": 5, "init": "normal_", "shape": [3, 20], "dtype": "float16"}
    expected = direct_init("normal_", 5, (3, 20), "float16", {})
    js = client.post("/v1/tensors/init", json=body).json()
    tensor = js["tensors"]["tensor"]
    assert tensor["shape"] == [3, 20]
    assert tensor["dtype"] == "float16"
    parsed = np.array(tensor["values"], dtype=np.float64).astype(np.float16).reshape(3, 20)
    assert parsed.tobytes() == bits(expected)
    scope: dict[str, Any] = {}
    exec(js["reference"], scope)
    assert bits(scope["t"]) == bits(expected)
    npz = np.load(io.BytesIO(client.post("/v1/tensors/init", json=body,
                                         headers={"Accept": "application/x-npz"}).content))
    assert npz["tensor"].tobytes() == bits(expected)
    bf = client.post("/v1/tensors/init", json={**body, "dtype": "bfloat16"},
                     params={"format": "npz"})
    assert bf.status_code == 422
    assert bf.json()["parameter"] == "format"


# (type, kwargs) several per whitelisted module; run with dtype= where the module takes it.
MODULE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("Linear", {"in_features": 10, "out_features": 3}),
    ("Linear", {"in_features": 4, "out_features": 7, "bias": False}),
    ("Bilinear", {"in1_features": 3, "in2_features": 4, "out_features": 5}),
    ("Bilinear", {"in1_features": 2, "in2_features": 2, "out_features": 2, "bias": False}),
    ("Conv1d", {"in_channels": 3, "out_channels": 6, "kernel_size": 3}),
    ("Conv1d", {"in_channels": 4, "out_channels": 4, "kernel_size": 5, "groups": 2,
                "padding": "same", "padding_mode": "circular"}),
    ("Conv2d", {"in_channels": 3, "out_channels": 8, "kernel_size": [3, 5], "stride": 2}),
    ("Conv2d", {"in_channels": 2, "out_channels": 4, "kernel_size": 3, "bias": False,
                "dilation": 2, "padding": 1}),
    ("Conv3d", {"in_channels": 2, "out_channels": 3, "kernel_size": 2}),
    ("Conv3d", {"in_channels": 2, "out_channels": 2, "kernel_size": [1, 2, 3], "groups": 2}),
    ("ConvTranspose1d", {"in_channels": 3, "out_channels": 5, "kernel_size": 4}),
    ("ConvTranspose1d", {"in_channels": 4, "out_channels": 2, "kernel_size": 3, "groups": 2,
                         "stride": 2, "output_padding": 1}),
    ("ConvTranspose2d", {"in_channels": 3, "out_channels": 2, "kernel_size": [2, 3]}),
    ("ConvTranspose2d", {"in_channels": 2, "out_channels": 2, "kernel_size": 3, "bias": False}),
    ("ConvTranspose3d", {"in_channels": 2, "out_channels": 3, "kernel_size": 2}),
    ("ConvTranspose3d", {"in_channels": 1, "out_channels": 1, "kernel_size": [1, 2, 2],
                         "stride": [1, 2, 2]}),
    ("Embedding", {"num_embeddings": 20, "embedding_dim": 6}),
    ("Embedding", {"num_embeddings": 10, "embedding_dim": 3, "padding_idx": 0}),
    ("LayerNorm", {"normalized_shape": 8}),
    ("LayerNorm", {"normalized_shape": [4, 5], "elementwise_affine": False}),
    ("GroupNorm", {"num_groups": 2, "num_channels": 6}),
    ("GroupNorm", {"num_groups": 3, "num_channels": 3, "affine": False}),
    ("BatchNorm1d", {"num_features": 5}),
    ("BatchNorm1d", {"num_features": 3, "affine": False, "momentum": None}),
    ("BatchNorm2d", {"num_features": 4}),
    ("BatchNorm2d", {"num_features": 2, "track_running_stats": False}),
    ("BatchNorm3d", {"num_features": 3}),
    ("BatchNorm3d", {"num_features": 2, "eps": 1e-3}),
    ("RNN", {"input_size": 4, "hidden_size": 6}),
    ("RNN", {"input_size": 3, "hidden_size": 5, "num_layers": 2, "nonlinearity": "relu",
             "bidirectional": True}),
    ("LSTM", {"input_size": 4, "hidden_size": 6}),
    ("LSTM", {"input_size": 3, "hidden_size": 8, "num_layers": 2, "proj_size": 4,
              "dropout": 0.1}),
    ("GRU", {"input_size": 4, "hidden_size": 6}),
    ("GRU", {"input_size": 2, "hidden_size": 3, "bias": False, "bidirectional": True}),
    ("MultiheadAttention", {"embed_dim": 8, "num_heads": 2}),
    ("MultiheadAttention", {"embed_dim": 6, "num_heads": 3, "kdim": 4, "vdim": 5,
                            "add_bias_kv": True}),
    ("TransformerEncoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16}),
    ("TransformerEncoderLayer", {"d_model": 12, "nhead": 3, "dim_feedforward": 10,
                                 "activation": "gelu", "norm_first": True}),
    ("TransformerDecoderLayer", {"d_model": 8, "nhead": 2, "dim_feedforward": 16}),
    ("TransformerDecoderLayer", {"d_model": 6, "nhead": 1, "dim_feedforward": 7,
                                 "bias": False}),
]
PARAMETER_FREE: list[tuple[str, dict[str, Any]]] = [
    ("Identity", {}), ("ReLU", {}), ("ReLU6", {}), ("GELU", {"approximate": "tanh"}),
    ("SiLU", {}), ("Mish", {}), ("Tanh", {}), ("Sigmoid", {}),
    ("Softplus", {"beta": 2.0}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
    ("Softmax", {"dim": -1}), ("LogSoftmax", {"dim": 1}), ("Dropout", {"p": 0.2}),
    ("Dropout1d", {}), ("Dropout2d", {}), ("Dropout3d", {}), ("Flatten", {}),
    ("MaxPool1d", {"kernel_size": 2}), ("MaxPool2d", {"kernel_size": [2, 2], "stride": 1}),
    ("MaxPool3d", {"kernel_size": 2}), ("AvgPool1d", {"kernel_size": 3}),
    ("AvgPool2d", {"kernel_size": 2, "padding": 1}), ("AvgPool3d", {"kernel_size": 2}),
    ("AdaptiveAvgPool1d", {"output_size": 4}), ("AdaptiveAvgPool2d", {"output_size": [2, 3]}),
    ("AdaptiveAvgPool3d", {"output_size": 1}),
]


def _torch_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def direct_state(seed: int, dtype: str, layers: list[tuple[str, dict[str, Any]]]) -> dict[
        str, torch.Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mods = []
        for kind, kwargs in layers:
            cls = getattr(nn, kind)
            extra = {"dtype": getattr(torch, dtype)} if (kind, kwargs) not in PARAMETER_FREE else {}
            mods.append(cls(**_torch_args(kwargs), **extra))
        return dict(nn.Sequential(*mods).state_dict())


def test_every_module_is_tested() -> None:
    assert {c[0] for c in MODULE_CASES + PARAMETER_FREE} == set(MODULES)


def _post_modules(client: TestClient, seed: int, dtype: str,
                  layers: list[tuple[str, dict[str, Any]]]) -> dict[str, torch.Tensor]:
    body = {"seed": seed, "dtype": dtype,
            "modules": [{"type": kind, **kwargs} for kind, kwargs in layers]}
    resp = client.post("/v1/modules/init", json=body, params={"format": "safetensors"})
    assert resp.status_code == 200, resp.text
    return safetensors_load(resp.content)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize(("kind", "kwargs"), MODULE_CASES)
def test_module_matches_torch(client: TestClient, kind: str, kwargs: dict[str, Any],
                              dtype: str) -> None:
    for seed in (0, 1234):
        layers = [(kind, kwargs), ("ReLU", {})]
        got = _post_modules(client, seed, dtype, layers)
        expected = direct_state(seed, dtype, layers)
        assert set(got) == set(expected)
        for name, tensor in expected.items():
            assert got[name].dtype == tensor.dtype, name
            assert bits(got[name]) == bits(tensor), name


def test_parameter_free_layers_in_a_model(client: TestClient) -> None:
    layers = [("Conv2d", {"in_channels": 1, "out_channels": 2, "kernel_size": 3}),
              *PARAMETER_FREE, ("Linear", {"in_features": 5, "out_features": 5})]
    got = _post_modules(client, 9, "float32", layers)
    expected = direct_state(9, "float32", layers)
    assert set(got) == set(expected)
    assert all(bits(got[k]) == bits(v) for k, v in expected.items())


def test_issue_example_and_reference(client: TestClient) -> None:
    layers = [{"type": "Linear", "in_features": 10, "out_features": 10}, {"type": "ReLU"},
              {"type": "Linear", "in_features": 10, "out_features": 2}]
    body = client.post("/v1/modules/init", json={"seed": 42, "modules": layers}).json()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))
    for name, tensor in model.state_dict().items():
        got = body["tensors"][name]
        assert got["shape"] == list(tensor.shape)
        assert np.array_equal(np.array(got["values"], dtype=np.float32),
                              tensor.reshape(-1).numpy())
    scope: dict[str, Any] = {}
    with torch.random.fork_rng(devices=[]):
        exec(body["reference"], scope)
    assert all(torch.equal(scope["state"][k], v) for k, v in model.state_dict().items())


BAD_TENSORS: list[tuple[dict[str, Any], int, str]] = [
    ({"init": "nope_", "shape": [2]}, 422, "init"),
    ({"init": "uniform_", "shape": [2], "args": {"a": 2, "b": 1}}, 422, "args.b"),
    ({"init": "uniform_", "shape": [2], "args": {"a": "x"}}, 422, "args.a"),
    ({"init": "uniform_", "shape": [2], "args": {"c": 1}}, 422, "args.c"),
    ({"init": "normal_", "shape": [2], "args": {"std": -1}}, 422, "args.std"),
    ({"init": "normal_", "shape": [2], "dtype": "int8"}, 422, "dtype"),
    ({"init": "kaiming_uniform_", "shape": [5]}, 422, "shape"),
    ({"init": "kaiming_uniform_", "shape": [5, 5], "args": {"mode": "fan"}}, 422, "args.mode"),
    ({"init": "kaiming_normal_", "shape": [5, 5], "args": {"nonlinearity": "os"}}, 422,
     "args.nonlinearity"),
    ({"init": "sparse_", "shape": [5, 5]}, 422, "args.sparsity"),
    ({"init": "sparse_", "shape": [5, 5], "args": {"sparsity": 1.5}}, 422, "args.sparsity"),
    ({"init": "trunc_normal_", "shape": [1000], "args": {"mean": 0, "std": 1e-6, "a": 1.0,
                                                         "b": 2.0}}, 422, "args.mean"),
    ({"init": "trunc_normal_", "shape": [1_000_000],
      "args": {"mean": -0.02, "std": 0.01, "a": 0.0, "b": 1.0}}, 422, "args"),
    ({"init": "dirac_", "shape": [5, 2, 3], "args": {"groups": 2}}, 422, "args.groups"),
    ({"init": "constant_", "shape": [2], "dtype": "float16", "args": {"val": 1e6}}, 422,
     "args.val"),
    ({"init": "ones_", "shape": [2, -1]}, 422, "shape[1]"),
    ({"init": "ones_", "shape": [1] * 9}, 422, "shape"),
    ({"init": "ones_", "shape": [100_000, 100_000]}, 413, "shape"),
    ({"init": "orthogonal_", "shape": [5000, 5000]}, 422, "shape"),
    ({"init": "ones_", "shape": [2], "extra": 1}, 422, "extra"),
    ({"init": "ones_", "shape": [2], "seed": -1}, 422, "seed"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_TENSORS)
def test_bad_tensor_specs(client: TestClient, body: dict[str, Any], status: int,
                          field: str) -> None:
    resp = client.post("/v1/tensors/init", json={"seed": 1, **body})
    assert resp.status_code == status, resp.text[:300]
    assert resp.json()["parameter"] == field
    assert resp.json()["message"].startswith(field)


BAD_MODULES: list[tuple[list[dict[str, Any]], int, str]] = [
    ([{"type": "os.system"}], 422, "modules[0].type"),
    ([{"type": "Module"}], 422, "modules[0].type"),
    ([{"in_features": 3}], 422, "modules[0].type"),
    ([{"type": "Linear", "in_features": 3}], 422, "modules[0].out_features"),
    ([{"type": "Linear", "in_features": -3, "out_features": 2}], 422, "modules[0].in_features"),
    ([{"type": "Linear", "in_features": 3, "out_features": 2, "bias": "yes"}], 422,
     "modules[0].bias"),
    ([{"type": "ReLU"}, {"type": "Linear", "in_features": 3, "out_features": 2, "x": 1}], 422,
     "modules[1].x"),
    ([{"type": "Conv2d", "in_channels": 3, "out_channels": 6, "kernel_size": [3, 3, 3]}], 422,
     "modules[0].kernel_size"),
    ([{"type": "Conv2d", "in_channels": 3, "out_channels": 6, "kernel_size": 3, "groups": 2}],
     422, "modules[0].groups"),
    ([{"type": "Conv1d", "in_channels": 3, "out_channels": 6, "kernel_size": 3,
       "padding": "same", "stride": 2}], 422, "modules[0].padding"),
    ([{"type": "MultiheadAttention", "embed_dim": 10, "num_heads": 3}], 422,
     "modules[0].num_heads"),
    ([{"type": "LSTM", "input_size": 3, "hidden_size": 4, "proj_size": 4}], 422,
     "modules[0].proj_size"),
    ([{"type": "Embedding", "num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5}], 422,
     "modules[0].padding_idx"),
    ([{"type": "Dropout", "p": 1.5}], 422, "modules[0].p"),
    ([{"type": "Linear", "in_features": 100_000, "out_features": 100_000}], 413, "modules"),
    ([], 422, "modules"),
]


@pytest.mark.parametrize(("layers", "status", "field"), BAD_MODULES)
def test_bad_module_specs(client: TestClient, layers: list[dict[str, Any]], status: int,
                          field: str) -> None:
    resp = client.post("/v1/modules/init", json={"seed": 1, "modules": layers})
    assert resp.status_code == status, resp.text
    assert resp.json()["parameter"] == field


def test_element_limit_is_configurable() -> None:
    c = TestClient(create_app(Settings(max_init_elements=100)))
    ok = c.post("/v1/tensors/init", json={"seed": 1, "init": "ones_", "shape": [10, 10]})
    assert ok.status_code == 200
    big = c.post("/v1/modules/init", json={"seed": 1, "modules": [
        {"type": "Linear", "in_features": 10, "out_features": 10}]})
    assert big.status_code == 413
    assert "110" in big.json()["message"]


def test_etag_and_304(client: TestClient) -> None:
    body = {"seed": 3, "modules": [{"type": "Linear", "in_features": 2, "out_features": 2}]}
    first = client.post("/v1/modules/init", json=body)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert TestClient(create_app()).post("/v1/modules/init", json=body).headers["etag"] == etag
    again = client.post("/v1/modules/init", json=body, headers={"If-None-Match": etag})
    assert again.status_code == 304
    other = client.post("/v1/modules/init", json={**body, "seed": 4})
    assert other.headers["etag"] != etag


def test_concurrent_module_and_stream_requests_do_not_interleave(client: TestClient) -> None:
    """Module builds share torch's global generator under a lock; streams use their own."""
    layers = [("Linear", {"in_features": 64, "out_features": 64}),
              ("LSTM", {"input_size": 16, "hidden_size": 16})]
    expected = {seed: direct_state(seed, "float32", layers) for seed in range(6)}
    stream_expected = client.get("/v1/streams/torch-cpu/normal",
                                 params={"seed": 5, "count": 2000, "format": "raw"}).content
    global_before = torch.get_rng_state()
    barrier = threading.Barrier(12, timeout=60)

    def module_job(seed: int) -> bool:
        barrier.wait()
        got = _post_modules(client, seed, "float32", layers)
        return all(bits(got[k]) == bits(v) for k, v in expected[seed].items())

    def stream_job(_: int) -> bool:
        barrier.wait()
        got: bytes = client.get("/v1/streams/torch-cpu/normal",
                                params={"seed": 5, "count": 2000, "format": "raw"}).content
        return bool(got == stream_expected)

    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(module_job, s) for s in range(6)]
        futures += [pool.submit(stream_job, i) for i in range(6)]
        results = [f.result(timeout=120) for f in futures]
    assert all(results)
    assert torch.equal(global_before, torch.get_rng_state())


def test_inits_catalogue(client: TestClient) -> None:
    body = client.get("/v1/inits").json()
    assert {i["name"] for i in body["inits"]} == set(INITS)
    assert {m["type"] for m in body["modules"]} == set(MODULES)
    assert body["max_elements"] == 50_000_000
    assert set(body["formats"]) == {"json", "safetensors", "npz"}
    spec = client.get("/openapi.json").json()
    for path in ("/v1/tensors/init", "/v1/modules/init"):
        content = spec["paths"][path]["post"]["responses"]["200"]["content"]
        assert content["application/x-safetensors"]["schema"]["format"] == "binary"
