"""The Python client, in-process and against live servers (one of them flaky)."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from torch import nn

from app.config import Settings
from app.core.spec import Runtime
from app.main import create_app
from seed_authority_client import Authority, AuthorityError, AuthorityUnavailable
from tests.support.oracle import reference, same_bits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local() -> Iterator[Authority]:
    with TestClient(create_app()) as http, Authority(client=http, backoff=0) as authority:
        yield authority


def test_stream_slicing_and_indexing(local: Authority) -> None:
    s = local.stream("numpy-legacy", "uniform", seed=7)
    assert same_bits(s[1000:2000], reference("numpy-legacy", "uniform", 7, 2000, "float64",
                                             {"low": 0.0, "high": 1.0})[1000:])
    assert s[0] == 0.07630828937395717
    assert same_bits(s[10:20:3], np.random.RandomState(7).rand(20)[10:20:3])
    t = local.stream("torch-cpu", "normal", seed=3, dtype="float64", loc=1.0, scale=2.0)
    assert same_bits(t[5:37], reference("torch-cpu", "normal", 3, 37, "float64",
                                        {"loc": 1.0, "scale": 2.0})[5:])
    w = local.stream("numpy-pcg64", "integers", seed=7, spawn_key=3, low=0, high=10)
    expected = np.random.default_rng(np.random.SeedSequence(7).spawn(4)[3]).integers(0, 10, 50)
    assert same_bits(w[0:50], expected)
    with pytest.raises(IndexError):
        s[5:]


def test_chunks_prefetch_and_split_large_counts(local: Authority) -> None:
    local.chunk = 700
    s = local.stream("python-random", "normal", seed=11)
    parts = list(s.chunks(100, 3100, size=900))
    assert [len(p) for p in parts] == [900, 900, 900, 300]
    expected = reference("python-random", "normal", 11, 3100, "float64",
                         {"loc": 0.0, "scale": 1.0})[100:]
    assert same_bits(np.concatenate(parts), expected)
    assert same_bits(s[0:2500], reference("python-random", "normal", 11, 2500, "float64",
                                          {"loc": 0.0, "scale": 1.0}))
    endless = iter(s)
    assert len(next(endless)) == 700


def test_large_slices_are_read_into_one_array(local: Authority,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Past one request, each response is read straight into its part of one array."""
    local.chunk = 1000
    joined: list[object] = []
    monkeypatch.setattr(np, "concatenate", lambda *a, **k: joined.append(a))
    s = local.stream("torch-cpu", "normal", seed=4, dtype="bfloat16")
    got = s[10:3510]
    monkeypatch.undo()
    assert joined == []
    assert got.dtype == np.dtype("<u2")
    assert got.flags.writeable  # one array of ours, not a view of a response body
    expected = reference("torch-cpu", "normal", 4, 3510, "bfloat16", {"loc": 0.0, "scale": 1.0})
    assert same_bits(got, expected[10:])
    local.chunk = 100_000  # one request, read as it arrives into an array made for it
    big = local.stream("numpy-legacy", "uniform", seed=4)[5:70_005]
    assert big.flags.writeable
    assert same_bits(big, np.random.RandomState(4).random_sample(70_005)[5:])


@pytest.mark.parametrize(("engine", "dist"), [
    ("numpy-legacy", "normal"), ("numpy-pcg64", "uniform"), ("numpy-philox", "normal"),
    ("numpy-sfc64", "uniform"), ("numpy-mt19937", "uniform"), ("python-random", "normal"),
    ("torch-cpu", "uniform"), ("torch-cpu", "normal")])
def test_generator_handoff(local: Authority, engine: str, dist: str) -> None:
    offset = 160_000 if dist == "normal" else 10**9 + 1
    if engine in ("numpy-sfc64", "python-random") or (dist == "normal"
                                                      and engine != "torch-cpu"):
        offset = 40_000
    gen = local.generator(engine, seed=5, offset=offset, distribution=dist)
    served = local.stream(engine, dist, seed=5)[offset:offset + 64]
    if engine == "numpy-legacy":
        drawn = gen.normal(0.0, 1.0, 64)
    elif engine.startswith("numpy-"):
        drawn = gen.uniform(0.0, 1.0, 64) if dist == "uniform" else gen.normal(0.0, 1.0, 64)
    elif engine == "python-random":
        drawn = np.array([gen.gauss(0.0, 1.0) for _ in range(64)])
    elif dist == "uniform":
        drawn = torch.empty(64).uniform_(0.0, 1.0, generator=gen).numpy()
    else:
        drawn = torch.empty(64).normal_(0.0, 1.0, generator=gen).numpy()
    assert same_bits(np.asarray(drawn), served)
    with pytest.raises(ValueError, match="16-element block"):
        local.generator("torch-cpu", seed=5, offset=17, distribution="normal")


def test_inits(local: Authority) -> None:
    t = local.init_tensor(42, "kaiming_uniform_", [10, 10], a=5**0.5)
    g = torch.Generator().manual_seed(42)
    assert torch.equal(t, nn.init.kaiming_uniform_(torch.empty(10, 10), a=5**0.5, generator=g))
    state = local.init_module(42, [{"type": "Linear", "in_features": 10, "out_features": 2}])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        expected = nn.Linear(10, 2).state_dict()
    assert all(torch.equal(state[f"0.{k}"], v) for k, v in expected.items())


def test_errors_are_raised_with_the_parameter(local: Authority) -> None:
    with pytest.raises(AuthorityError) as err:
        local.stream("numpy-legacy", "uniform", seed=-1)[0:3]
    assert err.value.parameter == "seed"
    assert err.value.status == 422
    with pytest.raises(AuthorityError, match="init"):
        local.init_tensor(1, "nope_", [2])
    cpu_only = create_app(runtime=Runtime())  # whatever this machine has
    with (TestClient(cpu_only) as http, Authority(client=http, backoff=0) as on_cpu,
          pytest.raises(AuthorityError) as gpu):  # a 501: answered, not retried
        on_cpu.stream("torch-cuda", "normal", seed=1)[0:4]
    assert gpu.value.status == 501


def test_seed_everything_in_a_fresh_process(live_server: str) -> None:
    probe = (
        "import random, numpy as np, torch\n"
        "from seed_authority_client import Authority\n"
        f"doc = Authority({live_server!r}).seed_everything(1234, rank=2)\n"
        "print(random.random(), float(np.random.rand()), float(torch.rand(1)[0]))\n"
        "print(torch.are_deterministic_algorithms_enabled())\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True, cwd=ROOT).stdout.split()
    seq = np.random.SeedSequence(1234).spawn(3)[2]
    s32, s64 = (int(seq.generate_state(1, d)[0]) for d in (np.uint32, np.uint64))
    assert float(out[0]) == random.Random(s64).random()
    assert float(out[1]) == np.random.RandomState(s32).rand()
    assert float(out[2]) == float(torch.rand(1, generator=torch.Generator().manual_seed(s64))[0])
    assert out[3] == "True"


class _Flaky:
    """ASGI wrapper: the first `failures` requests get a 503, or hit an unhandled error
    (uvicorn answers 500)."""

    def __init__(self, app: Any, failures: int, mode: str) -> None:
        self.app, self.failures, self.mode, self.seen = app, failures, mode, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen += 1
            if self.seen <= self.failures:
                if self.mode == "503":
                    await send({"type": "http.response.start", "status": 503, "headers": []})
                    await send({"type": "http.response.body", "body": b"busy"})
                    return
                raise RuntimeError("boom")
        await self.app(scope, receive, send)


@pytest.fixture(params=["503", "error"])
def flaky(request: pytest.FixtureRequest) -> Iterator[tuple[str, _Flaky]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = _Flaky(create_app(), failures=2, mode=request.param)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def test_retries_ride_out_failures(flaky: tuple[str, _Flaky]) -> None:
    url, app = flaky
    with Authority(url, backoff=0.01, retries=3) as authority:
        got = authority.stream("numpy-legacy", "uniform", seed=7)[0:3]
    assert got.tolist() == [0.07630828937395717, 0.7799187922401146, 0.4384092314408935]
    assert app.seen == 3
    app.seen = 0
    with Authority(url, backoff=0.01, retries=1) as authority, pytest.raises(
            AuthorityUnavailable):
        authority.stream("numpy-legacy", "uniform", seed=7)[0:3]


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with Authority(f"http://127.0.0.1:{port}", backoff=0.05, retries=2) as authority, \
            pytest.raises(AuthorityUnavailable, match="3 attempts"):
        authority.stream("numpy-legacy", "uniform", seed=7)[0:3]
    assert time.monotonic() - started >= (0.05 + 0.1) / 2  # jittered backoff


def test_distributed_workers_example(live_server: str) -> None:
    run = subprocess.run([sys.executable, "-m", "examples.distributed_workers", "--url",
                          live_server, "--workers", "3"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the union equals" in run.stdout


class _Limited:
    """ASGI wrapper: the first request gets a 429 (or 503) with Retry-After: 1."""

    def __init__(self, app: Any, status: int) -> None:
        self.app, self.status, self.seen = app, status, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen += 1
            if self.seen == 1:
                await send({"type": "http.response.start", "status": self.status,
                            "headers": [(b"retry-after", b"1")]})
                await send({"type": "http.response.body", "body": b"{}"})
                return
        await self.app(scope, receive, send)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(status: int) -> None:
    app = _Limited(create_app(), status)
    with TestClient(app) as http, Authority(client=http, backoff=0.001) as authority:
        started = time.monotonic()
        got = authority.stream("numpy-legacy", "uniform", seed=7)[0:3]
    assert time.monotonic() - started >= 1.0
    assert got.tolist() == [0.07630828937395717, 0.7799187922401146, 0.4384092314408935]
    assert app.seen == 2


def test_the_default_retry_schedule_outlasts_a_restart() -> None:
    """The defaults keep retrying for at least 15 s (the least the jitter may sleep)."""
    a = Authority()
    least = sum(min(a.max_backoff, a.backoff * 2 ** (n - 1)) / 2
                for n in range(1, a.retries + 1))
    assert least >= 15
    assert a.retry_budget >= least
    a.close()


def test_the_client_sends_its_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import Settings

    app = create_app(Settings(api_keys="sekrit"))
    with TestClient(app) as http:
        assert Authority(client=http, api_key="sekrit").seeds(1)["seed"] == 1
        monkeypatch.setenv("SEED_AUTHORITY_API_KEY", "sekrit")
        assert Authority(client=http).seeds(1)["seed"] == 1
        monkeypatch.delenv("SEED_AUTHORITY_API_KEY")
        with pytest.raises(AuthorityError) as err:
            Authority(client=http).seeds(1)
        assert err.value.status == 401


def test_run_handle(tmp_path: Path) -> None:
    """Authority.run(name): seeds, streams, generators and a cursor, all by the run's name."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'runs.db'}"))
    with TestClient(app) as http, Authority(client=http) as a:
        run = a.run("client-run", note="test")
        assert a.run("client-run").seed == run.seed
        ss = np.random.SeedSequence(run.seed, spawn_key=(2,))
        assert run.seeds(rank=2)["seeds"]["torch-cpu"] == int(ss.generate_state(1, np.uint64)[0])
        x = run.stream("numpy-pcg64", "uniform", spawn_key=2)[10:20]
        assert x.tolist() == np.random.default_rng(ss).random(20)[10:].tolist()
        g = run.generator("numpy-pcg64", 10, spawn_key=2)
        assert g.random(10).tolist() == x.tolist()
        cursor = run.cursor("q", "numpy-pcg64", "uniform", spawn_key=2)
        first, second = cursor.claim(7, worker="w"), cursor.claim(3)
        assert (first.offset, second.offset, second.next_offset) == (0, 7, 10)
        assert np.concatenate([first.values(), cursor.get(second.id).values()]).tolist() == (
            np.random.default_rng(ss).random(10).tolist())
        assert [c.id for c in cursor.claims()] == [first.id, second.id]
        assert cursor.position() == 10
        with pytest.raises(ValueError, match="exactly one"):
            a.stream("numpy-pcg64", "uniform", 1, run="client-run")
