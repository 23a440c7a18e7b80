"""Issue #11: bounded input, no 500s, no internals in bodies, strict parameters, API keys,
rate limits and security headers. Each test here failed on the code before the issue."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from app.api.auth import KeyRing, TokenBuckets, load_keys
from app.api.tensor_stream import npz_chunks, safetensors_chunks, safetensors_length
from app.config import Settings
from app.main import create_app

HUGE = int("1" + "0" * 400)


def _app(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(**settings)))


# -- request bodies ------------------------------------------------------------------------


def _asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]],
          chunks: list[bytes]) -> tuple[int, dict[str, str], bytes, int]:
    """Call the ASGI app directly; return status, headers, body and the chunks it read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1],
                    "more_body": read < len(chunks)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    hdrs = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, body, read


def test_a_declared_oversized_body_is_refused_before_it_is_read() -> None:
    app = create_app(Settings(max_body_bytes=1000))
    status, headers, body, read = _asgi(
        app, "POST", "/v1/tensors/init",
        [(b"content-type", b"application/json"), (b"content-length", b"200000000")],
        [b"{" * 1000] * 3)
    assert status == 413
    assert read == 0
    doc = json.loads(body)
    assert doc["error"] == "too_large"
    assert doc["parameter"] == "body"
    assert "1000" in doc["message"]
    assert headers["content-type"] == "application/json"


def test_a_chunked_body_is_counted_while_read_and_refused() -> None:
    app = create_app(Settings(max_body_bytes=1000))
    status, _, body, read = _asgi(
        app, "POST", "/v1/tensors/init",
        [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        [b" " * 600] * 50)
    assert status == 413
    assert read == 2  # stopped at the chunk that passed the limit
    assert json.loads(body)["parameter"] == "body"


def test_chunked_bodies_under_the_limit_still_work() -> None:
    c = _app(max_body_bytes=1000)

    def gen() -> Iterator[bytes]:
        yield b'{"seed": 1, "init": '
        yield b'"normal_", "shape": [3]}'

    r = c.post("/v1/tensors/init", content=gen(), headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert len(r.json()["tensors"]["tensor"]["values"]) == 3


def test_unparseable_json_is_a_400_naming_the_body(client: TestClient) -> None:
    r = client.post("/v1/tensors/init", content=b'{"seed": 1,',
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_body"
    assert r.json()["parameter"] == "body"


# -- no 500s, no internals -------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "parameter"), [
    ("/v1/tensors/init", {"seed": 1, "init": "normal_", "shape": [2], "args": {"std": HUGE}},
     "args.std"),
    ("/v1/tensors/init", {"seed": 1, "init": "normal_", "shape": [2], "args": {"mean": -HUGE}},
     "args.mean"),
    ("/v1/tensors/init", {"seed": 1, "init": "uniform_", "shape": [2], "args": {"a": 1e308,
                                                                                "b": HUGE}},
     "args.b"),
    ("/v1/modules/init", {"seed": 1, "modules": [{"type": "Dropout", "p": HUGE}]},
     "modules[0].p"),
    ("/v1/modules/init", {"seed": 1, "modules": [{"type": "Linear", "in_features": 2**70,
                                                  "out_features": 2}]},
     "modules[0].in_features"),
    ("/v1/modules/init", {"seed": 1, "modules": [{"type": "Conv2d", "in_channels": 1,
                                                  "out_channels": 1,
                                                  "kernel_size": [HUGE, 1]}]},
     "modules[0].kernel_size"),
])
def test_huge_numbers_are_422s_naming_the_parameter(client: TestClient, path: str,
                                                     body: dict[str, Any],
                                                     parameter: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["parameter"] == parameter
    assert len(r.text) < 400


def test_torch_refusals_carry_no_stack_trace(client: TestClient) -> None:
    r = client.post("/v1/modules/init", json={"seed": 1, "modules": [
        {"type": "Linear", "in_features": 2**62, "out_features": 2}]})
    assert r.status_code in (413, 422)
    text = r.text
    assert len(text) < 400
    for leak in ("Exception raised from", ".cpp", "frame #", "0x", "/site-packages/"):
        assert leak not in text


def test_the_last_resort_is_a_json_500_with_the_request_id() -> None:
    app = create_app()

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /usr/lib/x.so")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/boom", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "internal_error"
    assert "abc-123" in r.json()["message"]
    assert r.headers["x-request-id"] == "abc-123"
    assert "secret" not in r.text


# -- strict parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "/v1/streams/numpy-pcg64/uniform?seed=1&seed=2&count=3",
    "/v1/streams/numpy-pcg64/uniform?seed=1&count=3&count=4",
    "/v1/states/numpy-pcg64/uniform?seed=1&offset=3&offset=3",
    "/v1/seeds?seed=1&spawn_key=1&spawn_key=2",
])
def test_a_repeated_query_parameter_is_a_422_naming_it(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422
    repeated = [k for k in ("seed", "count", "offset", "spawn_key") if url.count(f"{k}=") > 1]
    assert r.json()["parameter"] == repeated[0]


@pytest.mark.parametrize(("path", "body", "parameter"), [
    ("/v1/tensors/init", {"seed": False, "init": "normal_", "shape": [2]}, "seed"),
    ("/v1/tensors/init", {"seed": True, "init": "normal_", "shape": [2]}, "seed"),
    ("/v1/tensors/init", {"seed": 1, "init": "normal_", "shape": [True, 2]}, "shape[0]"),
    ("/v1/tensors/init", {"seed": "1", "init": "normal_", "shape": [2]}, "seed"),
    ("/v1/tensors/init", {"seed": 1.0, "init": "normal_", "shape": [2]}, "seed"),
    ("/v1/modules/init", {"seed": True, "modules": [{"type": "ReLU"}]}, "seed"),
    ("/v1/modules/init", {"seed": 1, "modules": [{"type": "Linear", "in_features": True,
                                                  "out_features": 2}]},
     "modules[0].in_features"),
])
def test_json_booleans_are_not_integers(client: TestClient, path: str, body: dict[str, Any],
                                        parameter: str) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["parameter"] == parameter


def test_the_schema_states_what_the_server_enforces(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/v1/streams/{engine}/{distribution}"]["get"]
              ["parameters"]}
    device = params["device"]["schema"]["anyOf"][0]
    assert device["minLength"] == 1
    init = spec["components"]["schemas"]["TensorInitRequest"]["properties"]
    assert init["shape"]["items"]["minimum"] == 1
    assert client.get("/v1/streams/numpy-pcg64/uniform",
                      params={"seed": 1, "count": 1, "device": ""}).status_code == 422


# -- spec conformance ------------------------------------------------------------------------


def test_405_names_the_allowed_methods(client: TestClient) -> None:
    r = client.delete("/v1/streams/numpy-pcg64/uniform?seed=1&count=1")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    assert r.json()["error"] == "method_not_allowed"
    r = client.get("/v1/tensors/init")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


def test_openapi_documents_the_guards_statuses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            if path.startswith("/v1"):
                assert {"401", "429"} <= codes, (path, method)
            if method == "post":
                assert {"400", "413", "415"} <= codes, (path, method)
    for path in ("/v1/tensors/init", "/v1/modules/init"):
        assert "503" in spec["paths"][path]["post"]["responses"]


# -- security headers, CORS ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [
    ("GET", "/healthz"), ("GET", "/v1/streams/numpy-pcg64/uniform?seed=1&count=2"),
    ("GET", "/nowhere"), ("DELETE", "/v1/seeds"),
])
def test_every_response_carries_security_headers(client: TestClient, method: str,
                                                 url: str) -> None:
    r = client.request(method, url)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_the_listed_origins() -> None:
    c = _app(cors_origins="https://lab.example, https://ci.example")
    pre = {"Access-Control-Request-Method": "GET"}
    ok = c.options("/v1/seeds", headers={"Origin": "https://ci.example", **pre})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://ci.example"
    bad = c.options("/v1/seeds", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers
    r = c.get("/v1/seeds?seed=1", headers={"Origin": "https://lab.example"})
    assert r.headers["access-control-allow-origin"] == "https://lab.example"
    assert r.headers["x-content-type-options"] == "nosniff"


# -- API keys, rate limits -------------------------------------------------------------------


def test_api_keys_guard_v1_and_leave_probes_open(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# mounted secret\nfile-key\n\n")
    c = _app(api_keys="k1, k2", api_keys_file=str(keys))
    url = "/v1/seeds?seed=1"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic k1"},
                    {"Authorization": "k1"}):
        r = c.get(url, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"] == "unauthorized"
        assert r.json()["parameter"] == "Authorization"
    for key in ("k1", "k2", "file-key"):
        assert c.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    for open_path in ("/healthz", "/readyz", "/openapi.json"):
        assert c.get(open_path).status_code == 200
    assert c.post("/v1/tensors/init", json={}).status_code == 401


def test_keys_are_off_when_unset(client: TestClient) -> None:
    assert client.get("/v1/seeds?seed=1").status_code == 200
    assert load_keys("", None) == []
    assert not KeyRing([])
    ring = KeyRing(["a", "b"])
    assert ring.identify("a") is not None
    assert ring.identify("a") != ring.identify("b")
    assert ring.identify("c") is None
    assert ring.identify("") is None


def test_rate_limit_answers_429_with_retry_after_per_key() -> None:
    c = _app(api_keys="k1,k2", rate_limit=0.5, rate_burst=3)
    one = {"Authorization": "Bearer k1"}
    codes = [c.get("/v1/seeds?seed=1", headers=one).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get("/v1/seeds?seed=1", headers=one)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"] == "rate_limited"
    assert c.get("/v1/seeds?seed=1", headers={"Authorization": "Bearer k2"}).status_code == 200
    assert c.get("/healthz").status_code == 200  # probes are not limited


def test_rate_limit_per_address_when_keys_are_off() -> None:
    c = _app(rate_limit=1, rate_burst=2)
    codes = [c.get("/v1/seeds?seed=1").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_token_bucket_refills_at_the_rate() -> None:
    b = TokenBuckets(rate=2.0, burst=2)
    assert b.take("x", 0.0) == 0
    assert b.take("x", 0.0) == 0
    assert b.take("x", 0.0) == pytest.approx(0.5)
    assert b.take("x", 0.5) == 0  # one token back after 1/rate seconds
    assert b.take("y", 0.5) == 0  # another client has its own bucket


# -- streamed tensor bodies ------------------------------------------------------------------


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {"0.weight": torch.randn(5, 7, generator=g, dtype=torch.float64),
            "1.bias": torch.randn(9, generator=g).to(torch.bfloat16),
            "2.num_batches_tracked": torch.tensor(4),
            "2.weight": torch.randn(3, generator=g).to(torch.float16),
            "a": torch.randn(2, 2, generator=g)}


def _split(body: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(body[:8], "little")
    return json.loads(body[8:8 + n]), body[8 + n:]


def test_streamed_safetensors_are_the_library_layout() -> None:
    """The same header (the library orders __metadata__ by hash: compared parsed) and the
    same data bytes as safetensors.torch.save."""
    tensors, meta = _state(), {"seed": "3", "versions": '{"torch": "x"}'}
    body = b"".join(bytes(p) for p in safetensors_chunks(tensors, meta))
    ref = safetensors_save(tensors, metadata=meta)
    assert len(body) == len(ref) == safetensors_length(tensors, meta)
    assert _split(body) == _split(ref)
    assert (8 + int.from_bytes(body[:8], "little")) % 8 == 0
    loaded = safetensors_load(body)
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())


def test_streamed_safetensors_carry_every_torch_dtype_as_the_library() -> None:
    """Every dtype a result can have (call replay returns uint16/32/64 too), mixed, in the
    library's own order and bytes."""
    dtypes = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.float16,
              torch.bfloat16, torch.int32, torch.uint32, torch.float32, torch.float64,
              torch.int64, torch.uint64]
    tensors = {f"t{i}": torch.arange(5).to(d) for i, d in enumerate(dtypes)}
    tensors |= {f"a{i}": torch.arange(3).to(d) for i, d in enumerate(reversed(dtypes))}
    body = b"".join(bytes(p) for p in safetensors_chunks(tensors, {"k": "v"}))
    assert body == safetensors_save(tensors, metadata={"k": "v"})


def test_streamed_npz_loads_as_savez_writes() -> None:
    arrays = {k: (v.view(torch.int16) if v.dtype == torch.bfloat16 else v).numpy()
              for k, v in _state().items()}
    body = b"".join(bytes(p) for p in npz_chunks(arrays))
    got = np.load(io.BytesIO(body))
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    want = np.load(io.BytesIO(buf.getvalue()))
    assert sorted(got.files) == sorted(want.files)
    for name in want.files:
        assert got[name].dtype == want[name].dtype
        assert got[name].shape == want[name].shape
        assert got[name].tobytes() == want[name].tobytes()


def test_large_inits_stream_in_pieces(client: TestClient) -> None:
    body = {"seed": 5, "init": "normal_", "shape": [1100, 1000], "dtype": "float64"}
    g = torch.Generator().manual_seed(5)
    want = torch.nn.init.normal_(torch.empty(1100, 1000, dtype=torch.float64), generator=g)
    r = client.post("/v1/tensors/init", json=body, params={"format": "safetensors"})
    assert r.headers["content-length"] == str(len(r.content))
    assert torch.equal(safetensors_load(r.content)["tensor"], want)
    r = client.post("/v1/tensors/init", json=body, params={"format": "npz"})
    assert np.load(io.BytesIO(r.content))["tensor"].tobytes() == want.numpy().tobytes()


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client: TestClient, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = client.post("/v1/tensors/init", content=b'{"seed": 1, "init": "ones_", "shape": [2]}',
                    headers=headers)
    assert r.status_code == 415
    assert r.json()["error"] == "unsupported_media_type"
    assert r.json()["parameter"] == "Content-Type"
    ok = client.post("/v1/tensors/init", content=b'{"seed": 1, "init": "ones_", "shape": [2]}',
                     headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_the_states_route_documents_its_engine_statuses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    codes = spec["paths"]["/v1/states/{engine}/{distribution}"]["get"]["responses"]
    assert {"501", "503"} <= set(codes)
