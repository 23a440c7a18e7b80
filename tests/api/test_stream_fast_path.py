"""The stream route's fast path (issue 10): the same answers as the declared endpoint, the
same OpenAPI, and the pieces it is built from (query parser, slice heads, producer thread)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.api import stream_query
from app.api.caching import etag_for
from app.api.formats import Format
from app.api.prefetch import Prefetched, PrefetchedResponse
from app.api.routes import streams as route
from app.api.slice_meta import SliceHead
from app.api.strict import APP_CHECKS
from app.core.engines.numpy_legacy import seeded
from app.core.streams import resolve
from app.core.versions import versions
from app.main import create_app
from app.schemas import StreamQuery

PATH = "/v1/streams/{engine}/{distribution}"
GOLDEN = Path(__file__).parent.parent / "golden" / "stream_route_parameters.json"
# Request fields whose documentation does not list engines (new engines leave them alone).
FIXED_DOCS = {"seed", "run", "allow_version_drift", "offset", "count", "format", "accept",
              "if-none-match"}


def _schema_covers(now: object, before: object) -> bool:
    """``now`` is ``before``, or lists more enum members (a new engine or dtype); the
    descriptions that list the registry's names may grow too."""
    if isinstance(before, dict) and isinstance(now, dict):
        return before.keys() == now.keys() and all(
            k == "description" or (set(before[k]) <= set(now[k]) if k == "enum"
                                   else _schema_covers(now[k], before[k]))
            for k in before)
    if isinstance(before, list) and isinstance(now, list):
        return len(before) == len(now) and all(map(_schema_covers, now, before))
    return bool(now == before)


def test_openapi_parameters_are_those_of_before_the_fast_path(client: TestClient) -> None:
    """Captured from the route as FastAPI's model dependency documented it (before issue 10):
    every parameter is still there, where it was, as required, and every query and header
    parameter with the same schema (the path parameters' schemas are the registry's)."""
    before = {(p["name"], p["in"]): p for p in json.loads(GOLDEN.read_text())["parameters"]}
    now = {(p["name"], p["in"]): p
           for p in client.get("/openapi.json").json()["paths"][PATH]["get"]["parameters"]}
    assert before.keys() <= now.keys()
    for key, old in before.items():
        new = now[key]
        assert new.get("required", False) == old.get("required", False), key
        if key[1] == "path":
            continue
        assert _schema_covers(new["schema"], old["schema"]), key
        if key[0] in FIXED_DOCS:
            assert new.get("description") == old.get("description"), key


def test_the_fast_path_runs_the_application_checks(client: TestClient) -> None:
    assert [d.dependency for d in client.app.router.dependencies] == list(APP_CHECKS)  # type: ignore[attr-defined]


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = stream_query.parse

    def spy(items: Any) -> stream_query.SliceQuery | None:
        seen.append(out := real(items))
        return out

    monkeypatch.setattr(stream_query, "parse", spy)
    return seen


def test_the_fast_path_serves_plain_requests(client: TestClient,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _calls(monkeypatch)
    r = client.get("/v1/streams/numpy-legacy/uniform", params={"seed": 3, "count": 4})
    assert r.status_code == 200
    assert seen
    assert seen[-1] is not None
    r = client.get("/v1/streams/numpy-legacy/uniform",
                   params={"seed": 3, "count": 4, "allow_version_drift": "false"})
    assert r.status_code == 200
    assert seen[-1] is None  # the model's: run fields


Query = dict[str, str | int]
REQUESTS: list[tuple[str, str, Query, dict[str, str]]] = [
    ("numpy-legacy", "uniform", {"seed": 7, "offset": 5, "count": 16}, {}),
    ("numpy-legacy", "uniform", {"seed": 7, "offset": 5, "count": 16, "format": "raw"}, {}),
    ("numpy-legacy", "normal", {"seed": 2**32 - 1, "count": 9, "loc": "1.5", "scale": 2}, {}),
    ("numpy-legacy", "integers", {"seed": 1, "count": 5, "low": 0, "high": 10,
                                  "dtype": "int32"}, {"Accept": "application/x-npy"}),
    ("numpy-pcg64", "uniform", {"seed": 2**128 - 1, "spawn_key": "3,1",
                                "offset": 10**12, "count": 3}, {}),
    ("numpy-pcg64", "normal", {"seed": 2**127 + 5, "count": 40, "dtype": "float32"}, {}),
    ("python-random", "uniform", {"seed": 11, "offset": 100, "count": 7}, {}),
    ("torch-cpu", "normal", {"seed": 5, "offset": 3, "count": 20, "dtype": "bfloat16"}, {}),
    ("torch-cpu", "uniform", {"seed": 5, "count": 70_000, "format": "raw"}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 0}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 3, "format": "npy"},
     {"If-None-Match": "*"}),
    # refused by the core (same body either way)
    ("numpy-legacy", "uniform", {"seed": 2**32, "count": 3}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 3, "low": 2, "high": 1}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 3, "loc": 2}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 10**9}, {}),
    ("numpy-legacy", "normal", {"seed": 1, "count": 1, "offset": 10**15}, {}),
    ("numpy-legacy", "uniform", {"seed": 1, "count": 3}, {"Accept": "text/html"}),
    ("torch-cpu", "normal", {"seed": 1, "count": 1, "dtype": "bfloat16", "format": "npy"}, {}),
]


def _same(r: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    return r.status_code, dict(r.headers), r.content


@pytest.mark.parametrize(("engine", "distribution", "query", "headers"), REQUESTS)
def test_fast_and_declared_paths_answer_alike(client: TestClient, engine: str,
                                              distribution: str, query: Query,
                                              headers: dict[str, str]) -> None:
    """``allow_version_drift=false`` changes nothing but sends the request to the model."""
    url = f"/v1/streams/{engine}/{distribution}"
    headers = {**headers, "X-Request-ID": "same"}
    fast = client.get(url, params=query, headers=headers)
    declared = client.get(url, params={**query, "allow_version_drift": "false"},
                          headers=headers)
    assert _same(fast) == _same(declared)
    if fast.status_code == 200 and int(query.get("count", 0)) < 70_000:
        again = client.get(url, params=query, headers=headers)  # from the head cache
        assert _same(again) == _same(fast)


@pytest.mark.parametrize("query", [
    {"seed": "007", "count": "3"}, {"seed": " 7", "count": "3"}, {"seed": "+7", "count": "3"},
    {"seed": "7", "count": "3", "offset": "-1"}, {"seed": "7"}, {"count": "3"},
    {"seed": "7", "count": "3", "dtype": "float8"}, {"seed": "7", "count": "3", "format": "xml"},
    {"seed": "7", "count": "3", "device": ""}, {"seed": "7", "count": "3", "sead": "1"},
    {"seed": "1e3", "count": "3"}, {"seed": "7", "count": "3", "run": "x"},
])
def test_the_parser_leaves_doubtful_queries_to_the_model(query: dict[str, str]) -> None:
    assert stream_query.parse(list(query.items())) is None


_TEXT = st.sampled_from(["0", "7", "007", "-1", "1.0", " 3", "", "x", "123456789012345678901",
                         str(2**128), "json", "npy", "xml", "float32", "float64", "3,4"])


@given(st.dictionaries(st.sampled_from(["seed", "count", "offset", "dtype", "format",
                                        "device", "spawn_key", "low", "high"]), _TEXT))
def test_what_the_parser_takes_the_model_takes_alike(query: dict[str, str]) -> None:
    parsed = stream_query.parse(list(query.items()))
    if parsed is None:
        return
    model = StreamQuery.model_validate(query)
    assert (model.seed, model.offset, model.count) == (parsed.seed, parsed.offset, parsed.count)
    assert (model.dtype.value if model.dtype else None) == parsed.dtype
    assert (model.format, model.spawn_key, model.device) == (parsed.format, parsed.spawn_key,
                                                             parsed.device)
    assert model.params() == parsed.params


def test_the_parser_knows_every_field_of_the_model() -> None:
    assert stream_query.HANDLED | {"run", "allow_version_drift"} == stream_query.FIELDS
    with pytest.raises(ValidationError):
        StreamQuery.model_validate({"seed": "1", "count": "1", "nope": "1"})


@pytest.mark.parametrize(("engine", "distribution", "seed", "dtype", "params", "key", "run"), [
    ("numpy-legacy", "uniform", 7, None, {}, None, None),
    ("numpy-legacy", "normal", 2**32 - 1, None, {"loc": "0.1", "scale": "3"}, None, "exp-1"),
    ("numpy-pcg64", "uniform", 2**128 - 1, "float64", {"low": "-1e30", "high": "5"}, "1,2,3",
     None),
    ("torch-cpu", "integers", 0, "int16", {"low": "-5", "high": "9"}, "4", "r\u00e9sum\u00e9"),
])
def test_slice_heads_print_what_the_whole_documents_print(
        engine: str, distribution: str, seed: int, dtype: str | None, params: dict[str, str],
        key: str | None, run: str | None) -> None:
    stream = resolve(engine, distribution, seed, dtype, params, key)
    head = SliceHead(stream, run)
    for offset, count in ((0, 0), (5, 16), (2**64 - 17, 16)):
        for fmt in (Format.json, Format.npy, Format.raw):
            tag = etag_for({
                "engine": stream.engine.name, "distribution": stream.dist.name,
                "dtype": stream.dtype.name,
                "params": {k: repr(v) for k, v in stream.params.items()},
                "seed": stream.seed, "spawn_key": list(stream.spawn_key), "offset": offset,
                "count": count, "format": fmt.value})
            if run is not None:
                tag = etag_for({"slice": tag, "run": run})
            assert head.etag(offset, count, fmt) == tag
        meta = {"engine": stream.engine.name, "distribution": stream.dist.name,
                "seed": stream.seed, **({"run": run} if run is not None else {}),
                "spawn_key": list(stream.spawn_key), "offset": offset, "count": count,
                "next_offset": offset + count, "dtype": stream.dtype.name,
                "params": dict(stream.params),
                "reference": stream.reference(offset, offset + count), "versions": versions()}
        text = json.dumps(meta, separators=(",", ":"))
        assert head.json_head(offset, count) == text[:-1].encode() + b',"values":'
        call = {"device": "x", "n": 2**70}
        text = json.dumps({**meta, "local_call": call}, separators=(",", ":"))
        assert head.json_head(offset, count, call) == text[:-1].encode() + b',"values":'


def test_small_slices_stay_on_the_event_loop(client: TestClient,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[object] = []

    async def counted(fn: Any, *args: Any) -> Any:
        hops.append(fn)
        return fn(*args)

    monkeypatch.setattr(route, "run_in_threadpool", counted)
    assert client.get("/v1/streams/numpy-legacy/uniform",
                      params={"seed": 1, "offset": 900, "count": 16}).status_code == 200
    assert hops == []
    far = client.get("/v1/streams/numpy-legacy/uniform",
                     params={"seed": 1, "offset": 10**12, "count": 16})  # a jump: a thread's
    assert far.status_code == 200
    assert len(hops) == 1
    # streamed (over one chunk): positioned on the loop when that is cheap, the values made
    # by the producer thread; positioned in a thread when that is dear
    big = {"seed": 1, "count": 300_000, "format": "raw"}
    assert client.get("/v1/streams/numpy-legacy/uniform", params=big).status_code == 200
    assert len(hops) == 1
    # 50,000 in: regenerating (0.6 ms) and a jump (0.2 ms) both dearer than INLINE_NS
    r = client.get("/v1/streams/numpy-legacy/uniform",
                   params={**big, "seed": 2, "offset": 50_000})
    assert r.status_code == 200
    assert len(hops) == 2
    local = np.random.RandomState(2).uniform(0.0, 1.0, 350_000)[50_000:]
    assert np.frombuffer(r.content, "<f8").tobytes() == local.tobytes()


def test_a_large_slice_is_streamed_exactly_from_the_producer() -> None:
    from app.config import Settings

    settings = Settings(chunk_bytes=1 << 16)
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/streams/numpy-legacy/normal",
                  params={"seed": 9, "offset": 3, "count": 100_003, "format": "raw"})
        assert r.status_code == 200
        assert r.headers["content-length"] == str(8 * 100_003)
        local = np.random.RandomState(9).normal(0.0, 1.0, 100_006)[3:]
        assert np.array_equal(np.frombuffer(r.content, "<f8"), local)
        r = c.get("/v1/streams/numpy-legacy/uniform",
                  params={"seed": 9, "count": 50_000, "format": "npy"})
        assert int(r.headers["content-length"]) == len(r.content)


def test_the_producer_stays_at_most_depth_ahead_and_stops_when_the_reader_does() -> None:
    made: list[int] = []
    closed = threading.Event()

    def pieces() -> Iterator[bytes]:
        try:
            for i in range(100):
                made.append(i)
                yield bytes([i])
        finally:
            closed.set()

    async def read(n: int) -> list[bytes | memoryview]:
        out = []
        body = Prefetched(pieces(), depth=2).__aiter__()
        for _ in range(n):
            out.append(await body.__anext__())
            await asyncio.sleep(0.05)
            assert len(made) <= len(out) + 2
        await body.aclose()
        return out

    assert asyncio.run(read(5)) == [bytes([i]) for i in range(5)]
    assert closed.wait(5)
    time.sleep(0.1)
    assert len(made) <= 8


def test_the_producers_errors_reach_the_reader() -> None:
    def pieces() -> Iterator[bytes]:
        yield b"a"
        raise RuntimeError("boom")

    async def read() -> list[bytes]:
        return [p async for p in Prefetched(pieces())]  # type: ignore[misc]

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(read())


def _source(n: int, made: list[int], closed: threading.Event) -> Iterator[bytes]:
    try:
        for i in range(n):
            made.append(i)
            yield bytes([i])
    finally:
        closed.set()


def test_the_prefetched_response_sends_headers_then_every_piece() -> None:
    made: list[int] = []
    closed = threading.Event()
    sent: list[dict[str, Any]] = []

    async def serve() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(3600)  # the client stays
            return {}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        response = PrefetchedResponse(Prefetched(_source(5, made, closed)), "x/y",
                                      [(b"x-a", b"1")])
        await response({"type": "http"}, receive, send)

    asyncio.run(serve())
    assert sent[0] == {"type": "http.response.start", "status": 200,
                       "headers": [(b"x-a", b"1"), (b"content-type", b"x/y")]}
    assert [m["body"] for m in sent[1:]] == [bytes([i]) for i in range(5)] + [b""]
    assert [m["more_body"] for m in sent[1:]] == [True] * 5 + [False]
    assert closed.wait(5)


@pytest.mark.parametrize("when", ["at_start", "mid_body", "disconnect"])
def test_the_prefetched_response_stops_the_producer_when_the_client_goes(when: str) -> None:
    made: list[int] = []
    closed = threading.Event()
    async def serve() -> int:
        left = asyncio.Event()
        bodies = 0

        async def receive() -> dict[str, Any]:
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal bodies
            if message["type"] == "http.response.start" and when == "at_start":
                raise OSError("connection reset")
            if message["type"] == "http.response.body":
                bodies += 1
                if bodies == 3:
                    if when == "mid_body":
                        raise OSError("connection reset")
                    left.set()
                    await asyncio.sleep(0.01)  # the disconnect is noticed

        response = PrefetchedResponse(Prefetched(_source(10_000, made, closed)), "x/y", [])
        with contextlib.suppress(OSError):
            await response({"type": "http"}, receive, send)
        return bodies

    bodies = asyncio.run(serve())
    assert closed.wait(5)  # the source was closed in the producer's thread
    time.sleep(0.05)
    assert len(made) <= bodies + 3 < 10_000


@settings(max_examples=100)
@given(st.one_of(st.sampled_from([0, 1, 5489, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1)))
def test_the_fast_random_state_is_random_state(seed: int) -> None:
    a, b = seeded(seed), np.random.RandomState(seed)
    assert np.array_equal(a.random_sample(1000), b.random_sample(1000))
    assert np.array_equal(a.normal(size=1001), b.normal(size=1001))
    sa, sb = a.get_state(legacy=False), b.get_state(legacy=False)
    assert np.array_equal(sa["state"]["key"], sb["state"]["key"])
    assert (sa["state"]["pos"], sa["has_gauss"], sa["gauss"]) == (
        sb["state"]["pos"], sb["has_gauss"], sb["gauss"])


def test_the_quick_access_record_is_the_one_logging_makes() -> None:
    """observability.log_access builds the request line's record without logging's lookups
    of the caller; formatters see the same attributes."""
    import logging

    from app.api import observability

    got: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(dict(vars(record)))

    keep = Keep()
    observability.access_log.addHandler(keep)
    level = observability.access_log.level
    observability.access_log.setLevel(logging.INFO)
    try:
        fields = {"event": "request", "status": 404, "count": None, "route": "/v1/x"}
        observability.access_log.log(logging.WARNING, "GET /v1/x 404", extra=dict(fields))
        observability.log_access(logging.WARNING, "GET /v1/x 404", dict(fields))
    finally:
        observability.access_log.removeHandler(keep)
        observability.access_log.setLevel(level)
    made, quick = got
    assert made.keys() == quick.keys()
    where = {"pathname", "filename", "module", "lineno", "funcName", "created", "msecs",
             "relativeCreated"}
    assert {k: v for k, v in made.items() if k not in where} == {
        k: v for k, v in quick.items() if k not in where}
    assert abs(made["created"] - quick["created"]) < 1
