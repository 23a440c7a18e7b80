"""Operations: request ids, one log line per request, /metrics, /docs without internet."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.api import metrics, tracing
from app.config import Settings
from app.core.versions import versions
from app.main import create_app
from tests.conftest import _free_port

STREAM = "/v1/streams/{}/{}"


def scrape(client: TestClient | httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]],
                                                      float]:
    """Every sample of /metrics: (name, labels) -> value."""
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def log_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


# ---------------------------------------------------------------------------------------------
# Request ids


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    url = STREAM.format("numpy-pcg64", "uniform")
    given = client.get(url, params={"seed": 1, "count": 3}, headers={"X-Request-ID": "job-7.a"})
    assert given.headers["x-request-id"] == "job-7.a"
    made = client.get(url, params={"seed": 1, "count": 3})
    other = client.get(url, params={"seed": 1, "count": 3})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != other.headers["x-request-id"]
    # An id that is not a sane token is not copied into logs and headers: replaced.
    for bad in ("x" * 129, "a b", "évil", "a\tb"):
        resp = client.get(url, params={"seed": 1, "count": 3},
                          headers={"X-Request-ID": bad.encode("utf-8")})
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["x-request-id"]), bad
    # 304s, streamed bodies, metrics and the docs carry it too.
    etag = given.headers["etag"]
    assert client.get(url, params={"seed": 1, "count": 3}, headers={
        "If-None-Match": etag, "X-Request-ID": "r304"}).headers["x-request-id"] == "r304"
    with client.stream("GET", url, params={"seed": 1, "count": 300_000, "format": "raw"},
                       headers={"X-Request-ID": "big"}) as big:
        assert big.headers["x-request-id"] == "big"
        assert len(big.read()) == 8 * 300_000
    for path in ("/metrics", "/docs", "/healthz", "/openapi.json"):
        assert client.get(path, headers={"X-Request-ID": "p"}).headers["x-request-id"] == "p"


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "parameter"), [
    ("GET", STREAM.format("numpy-legacy", "uniform"), {"params": {"seed": 1, "count": -1}},
     422, "count"),
    ("GET", STREAM.format("nope", "uniform"), {"params": {"seed": 1, "count": 1}}, 422, "engine"),
    ("GET", "/no/such/path", {}, 404, None),
    ("POST", "/v1/tensors/init", {"json": {"seed": 1, "init": "normal_", "shape": [2],
                                           "dtype": "float8"}}, 422, "dtype"),
    ("GET", STREAM.format("numpy-legacy", "uniform"),
     {"params": {"seed": 1, "count": 1}, "headers": {"Accept": "text/html"}}, 406, "Accept"),
])
def test_error_bodies_carry_the_request_id(client: TestClient, method: str, path: str,
                                           kwargs: dict[str, object], status: int,
                                           parameter: str | None) -> None:
    headers = {"X-Request-ID": "err-1", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    resp = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert resp.status_code == status
    body = resp.json()
    assert body["request_id"] == "err-1"
    assert resp.headers["x-request-id"] == "err-1"
    assert body["parameter"] == parameter
    assert body["error"]
    assert body["message"]
    assert int(resp.headers["content-length"]) == len(resp.content)


def _failing_app() -> FastAPI:
    app = create_app()

    def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom/{engine}", boom)
    return app


def test_an_unhandled_exception_is_a_json_500_and_a_logged_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    client = TestClient(_failing_app())
    capsys.readouterr()
    resp = client.get("/boom/torch-cpu", headers={"X-Request-ID": "crash-1"})
    assert resp.status_code == 500
    assert resp.headers["x-request-id"] == "crash-1"
    body = resp.json()
    assert body["error"] == "internal_error"
    assert body["request_id"] == "crash-1"
    assert "kaboom" not in resp.text  # no internals to the caller
    lines = log_lines(capsys.readouterr().err)
    crash = [ln for ln in lines if ln.get("event") == "exception"]
    assert len(crash) == 1
    assert crash[0]["request_id"] == "crash-1"
    assert crash[0]["level"] == "error"
    assert "RuntimeError: kaboom" in str(crash[0]["exception"])
    access = [ln for ln in lines if ln.get("event") == "request"]
    assert [(a["status"], a["route"], a["request_id"]) for a in access] == [
        (500, "/boom/{engine}", "crash-1")]


# ---------------------------------------------------------------------------------------------
# Logs


def test_one_json_log_line_per_request(client: TestClient,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get(STREAM.format("torch-cpu", "normal"), params={"seed": 3, "count": 100,
                                                             "format": "raw"},
               headers={"X-Request-ID": "log-1"})
    client.get(STREAM.format("torch-cpu", "normal"), params={"seed": 3, "count": "x"},
               headers={"X-Request-ID": "log-2"})
    client.post("/v1/tensors/init", json={"seed": 1, "init": "normal_", "shape": [4, 5]},
                params={"format": "npz"}, headers={"X-Request-ID": "log-3"})
    lines = [ln for ln in log_lines(capsys.readouterr().err) if ln.get("event") == "request"]
    assert [ln["request_id"] for ln in lines] == ["log-1", "log-2", "log-3"]
    ok, bad, init = lines
    for ln in lines:
        assert {"time", "level", "request_id", "method", "route", "status", "duration_ms",
                "engine", "count", "bytes", "client"} <= set(ln)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(ln["time"]))
        assert isinstance(ln["duration_ms"], float)
        assert ln["duration_ms"] >= 0
    assert (ok["level"], ok["method"], ok["route"], ok["status"], ok["engine"], ok["count"],
            ok["bytes"]) == ("info", "GET", "/v1/streams/{engine}/{distribution}", 200,
                             "torch-cpu", 100, 400)
    assert (bad["level"], bad["status"], bad["error"], bad["parameter"]) == (
        "warning", 422, "invalid_parameter", "count")
    assert (init["route"], init["status"], init["count"]) == ("/v1/tensors/init", 200, 20)


def test_text_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    client = TestClient(create_app(Settings(log_format="text")))
    try:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "t-1"})
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert re.fullmatch(r"\S+Z INFO GET /healthz 200 request_id=t-1 event=request "
                            r"method=GET route=/healthz .*status=200 duration_ms=\S+ .*", err[0])
    finally:
        create_app(Settings(log_format="json"))  # the format is process-wide: restore it


# ---------------------------------------------------------------------------------------------
# Metrics


def test_metrics_count_requests_values_inits_and_cache() -> None:
    # every slice parks its generator (these are cheap to reach again, which would not)
    client = TestClient(create_app(Settings(park_after_ms=0)))
    url = STREAM.format("numpy-philox", "normal")
    before = scrape(client)
    for i in range(3):
        assert client.get(url, params={"seed": 77, "offset": 10 * i, "count": 10}).is_success
    assert client.get(url, params={"seed": 77, "count": -1}).status_code == 422
    client.get(STREAM.format("numpy-pcg64", "uniform"), params={"seed": 5, "count": 7,
                                                                 "offset": 10**15})
    client.post("/v1/tensors/init", json={"seed": 1, "init": "uniform_", "shape": [6, 7]})
    client.get(f"/v1/streams/numpy-philox/normal/{'x' * 10}")  # no such route
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/v1/streams/{engine}/{distribution}"
    assert delta("seed_authority_requests_total", route=route, method="GET", status="200") == 4
    assert delta("seed_authority_requests_total", route=route, method="GET", status="422") == 1
    assert delta("seed_authority_requests_total", route="unmatched", method="GET",
                 status="404") == 1
    assert delta("seed_authority_requests_total", route="/v1/tensors/init", method="POST",
                 status="200") == 1
    assert delta("seed_authority_request_seconds_count", route=route, method="GET") == 5
    assert delta("seed_authority_request_seconds_bucket", route=route, method="GET",
                 le="+Inf") == 5
    # route is the template: no series per raw path
    assert not any("numpy-philox" in dict(labels).get("route", "") for _, labels in after)
    assert delta("seed_authority_values_total", engine="numpy-philox", distribution="normal") \
        == 30
    assert delta("seed_authority_values_total", engine="numpy-pcg64", distribution="uniform") \
        == 7
    assert delta("seed_authority_init_elements_total") == 42
    assert delta("seed_authority_jump_seconds_count", engine="numpy-pcg64") == 1
    # Three consecutive slices: the first misses the cache, the next two resume from it.
    assert delta("seed_authority_checkpoint_cache_misses_total") >= 1
    assert delta("seed_authority_checkpoint_cache_hits_total") >= 2
    stats = client.app.state.streams.cache.stats()  # type: ignore[attr-defined]
    assert value(after, "seed_authority_checkpoint_cache_entries") == stats.checkpoints
    assert value(after, "seed_authority_checkpoint_cache_bytes") == stats.bytes
    assert value(after, "seed_authority_checkpoint_cache_max_bytes") == stats.max_bytes
    assert value(after, "seed_authority_build_info", **versions()) == 1


def test_cache_evictions_are_counted() -> None:
    client = TestClient(create_app(Settings(cache_bytes=4096, park_after_ms=0)))
    before = scrape(client)
    for seed in range(12):
        client.get(STREAM.format("numpy-legacy", "normal"), params={"seed": seed, "count": 5})
    after = scrape(client)
    evictions = client.app.state.streams.cache.stats().evictions  # type: ignore[attr-defined]
    assert evictions > 0
    assert value(after, "seed_authority_checkpoint_cache_evictions_total") - value(
        before, "seed_authority_checkpoint_cache_evictions_total") == evictions


class _Stats:
    reserved = 12345
    waiting = 3


class _Budget:
    def stats(self) -> _Stats:
        return _Stats()


def test_admission_gauges_follow_the_budget(client: TestClient) -> None:
    """The admission control's reserved bytes and queue length, where the app has one."""
    app = client.app
    sync = app.state.stats_sync  # type: ignore[attr-defined]
    app.state.stats_sync = metrics.StatsSync(sync.cache, _Budget())  # type: ignore[attr-defined]
    try:
        samples = scrape(client)
    finally:
        app.state.stats_sync = sync  # type: ignore[attr-defined]
    assert value(samples, "seed_authority_admission_in_flight_bytes") == 12345
    assert value(samples, "seed_authority_admission_queue_length") == 3


# ---------------------------------------------------------------------------------------------
# /docs without internet


def test_docs_pages_load_everything_from_the_service(client: TestClient) -> None:
    for page, assets in (("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
                         ("/redoc", {"redoc.standalone.js", "favicon.png"})):
        html = client.get(page).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert urls
        assert not [u for u in urls if "//" in u], f"{page} loads from outside: {urls}"
        assert "fonts.googleapis" not in html
        assert {u.rsplit("/", 1)[1] for u in urls} == assets
        for u in urls:
            asset = client.get(u)
            assert asset.status_code == 200, u
            assert len(asset.content) > 1000, u
    js = client.get("/static/docs/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert b"SwaggerUIBundle" in js.content
    assert b"Redoc" in client.get("/static/docs/redoc.standalone.js").content
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert "/openapi.json" in client.get("/docs").text


# ---------------------------------------------------------------------------------------------
# Under uvicorn: its access log replaced, not repeated; workers summed


def _start(env: dict[str, str], log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
             "--port", str(port), *args],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"uvicorn did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_uvicorn_logs_one_json_line_per_request(tmp_path: Path,
                                                stop: list[subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "uvicorn.log"
    proc, url = _start({"SEED_AUTHORITY_LOG_FORMAT": "json"}, log)
    stop.append(proc)
    with httpx.Client(base_url=url) as c:
        for i in range(5):
            c.get(STREAM.format("python-random", "uniform"), params={"seed": i, "count": 3},
                  headers={"X-Request-ID": f"live-{i}"})
    time.sleep(0.3)
    text = log.read_text()
    lines = text.strip().splitlines()
    assert all(ln.startswith("{") for ln in lines), text  # uvicorn's own lines too
    records = [json.loads(ln) for ln in lines]
    live = [r for r in records if str(r.get("request_id", "")).startswith("live-")]
    assert [r["request_id"] for r in live] == [f"live-{i}" for i in range(5)]
    assert {r["logger"] for r in live} == {"seed_authority.access"}
    assert all(r["client"] == "127.0.0.1" for r in live)
    assert not [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r["logger"].startswith("uvicorn") for r in records)  # startup, as JSON
    assert not [r for r in records if "color_message" in r]


def test_worker_processes_share_their_metrics(tmp_path: Path,
                                              stop: list[subprocess.Popen[bytes]]) -> None:
    mp = tmp_path / "metrics"
    mp.mkdir()
    proc, url = _start({"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(mp)},
                       tmp_path / "uvicorn.log")
    stop.append(proc)
    n = 40
    with httpx.Client(base_url=url) as c:
        for i in range(n):  # new connections: both workers answer some
            httpx.get(f"{url}{STREAM.format('numpy-mt19937', 'uniform')}",
                      params={"seed": i, "count": 11})
        time.sleep(0.2)
        route = "/v1/streams/{engine}/{distribution}"
        for _ in range(4):  # whichever worker answers the scrape, it adds up all of them
            samples = scrape(c)
            assert value(samples, "seed_authority_requests_total", route=route, method="GET",
                         status="200") == n
            assert value(samples, "seed_authority_values_total", engine="numpy-mt19937",
                         distribution="uniform") == 11 * n
    assert list(mp.glob("counter_*.db"))  # the workers' values are in the shared directory


# ---------------------------------------------------------------------------------------------
# Tracing (the optional extra, installed with the dev tools)


def test_tracing_is_off_by_default() -> None:
    assert Settings().tracing == "off"
    assert tracing.install(create_app(), "off") is None


def test_tracing_spans_carry_route_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    app = create_app()
    provider = tracing.install(app, "console", SimpleSpanProcessor(exporter))
    try:
        client = TestClient(app)
        given = client.get(STREAM.format("numpy-pcg64", "normal"),
                           params={"seed": 2, "count": 4}, headers={"X-Request-ID": "tr-1"})
        made = client.get(STREAM.format("numpy-pcg64", "normal"), params={"seed": 2,
                                                                           "count": -4})
        client.get("/healthz")  # excluded: probes would drown the traces
    finally:
        provider.shutdown()
    servers = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]
    assert [s.name for s in servers] == ["GET /v1/streams/{engine}/{distribution}"] * 2
    attrs = [dict(s.attributes or {}) for s in servers]
    assert attrs[0]["seed_authority.request_id"] == "tr-1"
    assert given.headers["x-request-id"] == "tr-1"
    # an id made for the span is the one the response and the log carry
    assert attrs[1]["seed_authority.request_id"] == made.headers["x-request-id"]
    logged = {ln["request_id"]: ln.get("trace_id") for ln in log_lines(capsys.readouterr().err)
              if ln.get("event") == "request"}
    assert logged["tr-1"] == format(servers[0].context.trace_id, "032x")
    assert made.json()["request_id"] == made.headers["x-request-id"]
    assert 422 in (attrs[1].get("http.status_code"), attrs[1].get("http.response.status_code"))


def test_tracing_without_the_extra_is_a_clear_startup_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.fastapi", None)
    with pytest.raises(RuntimeError, match=r"pip install 'seed-authority\[tracing\]'"):
        tracing.install(create_app(), "otlp")


def test_throttled_copies_at_most_once_per_interval_and_the_last_change_too() -> None:
    calls: list[float] = []

    async def burst() -> None:
        copy = metrics.Throttled(lambda: calls.append(time.monotonic()), interval=0.05)
        for _ in range(100):
            copy()
        assert len(calls) == 1  # the first at once, the rest skipped...
        await asyncio.sleep(0.12)
        assert len(calls) == 2  # ...but one more copy follows them
        copy()
        assert len(calls) == 3  # a call after a quiet interval copies at once

    asyncio.run(burst())
    assert calls[1] - calls[0] >= 0.04
    outside = metrics.Throttled(lambda: calls.append(0.0), interval=60)
    outside()
    outside()  # no event loop to delay it on: copied at once
    assert calls[-2:] == [0.0, 0.0]
