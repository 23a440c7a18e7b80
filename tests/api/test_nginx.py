"""deploy/nginx/nginx.conf in front of three uvicorn replicas, all on loopback.

A few hundred random slices go through a real nginx while one replica is killed: no request
may fail, every body must be byte-identical to what this (single, reference) process makes,
ETags must be the same whichever replica answers, and repeated requests must be cache hits.
Needs nginx (Debian's nginx-light; .ci/run installs it when missing); skips without it.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import _free_port
from tests.support.servers import wait_ready

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
REPLICAS = 3
SLICES = 150


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None)


NGINX = _nginx()
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx-light; .ci/run "
                          "installs it when it can)")


def test_config_replicas_are_the_compose_services() -> None:
    conf = CONF.read_text()
    servers = re.findall(r"^\s*server (authority-\d+):8000 ", conf, re.M)
    assert servers == [f"authority-{i}" for i in range(1, REPLICAS + 1)]
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {*servers, "nginx", "postgres"}  # postgres: docs/runs.md
    assert services["nginx"]["volumes"][0] == "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro"
    assert services["nginx"]["ports"] == ["8080:8080"]
    assert "listen 8080;" in conf
    for name in servers:
        assert services[name]["environment"]["ATEN_CPU_CAPABILITY"] == "avx2"
        assert services[name]["read_only"] is True


def loopback_config(tmp: Path, listen: int, replicas: list[int]) -> Path:
    """The committed config with loopback replicas, port and a temporary cache directory."""
    conf = CONF.read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n"
                      for p in replicas)
    conf, n = re.subn(r"(?:^\s*server authority-\d+:8000 [^\n]*\n)+", servers, conf,
                      flags=re.M)
    assert n == 1
    conf, n = re.subn(r"listen 8080;", f"listen 127.0.0.1:{listen};", conf)
    assert n == 1
    conf = conf.replace("/var/cache/nginx", str(tmp / "cache"))
    conf = conf.replace("access_log /dev/stdout", f"access_log {tmp / 'access.log'}")
    conf = conf.replace("error_log stderr", f"error_log {tmp / 'error.log'}")
    conf = conf.replace("worker_processes auto;", "worker_processes 2;")
    (tmp / "cache").mkdir()
    path = tmp / "nginx.conf"
    path.write_text(conf)
    return path


@dataclass
class Topology:
    url: str
    replicas: list[tuple[int, subprocess.Popen[bytes], Path]]
    access_log: Path


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    tmp = tmp_path_factory.mktemp("nginx")
    procs: list[subprocess.Popen[bytes]] = []
    replicas = []
    try:
        for i in range(REPLICAS):
            port = _free_port()
            log = tmp / f"replica-{i}.log"
            with log.open("wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                     "--port", str(port)],
                    env={**os.environ, "SEED_AUTHORITY_LOG_FORMAT": "json"},
                    stdout=subprocess.DEVNULL, stderr=err)
            procs.append(proc)
            replicas.append((port, proc, log))
        for port, proc, log in replicas:
            wait_ready(proc, f"http://127.0.0.1:{port}/healthz", "a replica", 120, log)
        listen = _free_port()
        conf = loopback_config(tmp, listen, [p for p, _, _ in replicas])
        assert NGINX is not None
        user = "user root;" if os.geteuid() == 0 else ""
        with (tmp / "nginx.stderr").open("wb") as err:
            nginx = subprocess.Popen(
                [NGINX, "-c", str(conf), "-p", str(tmp), "-g",
                 f"daemon off; pid {tmp / 'nginx.pid'}; {user}"],
                stdout=subprocess.DEVNULL, stderr=err)
        procs.append(nginx)
        url = f"http://127.0.0.1:{listen}"
        wait_ready(nginx, f"{url}/nginx-healthz", "nginx", 120, tmp / "error.log")
        yield Topology(url, replicas, tmp / "access.log")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass(frozen=True)
class Slice:
    path: str
    params: tuple[tuple[str, str], ...]
    accept: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Accept": self.accept} if self.accept else {}


STREAMS = [
    ("numpy-legacy", "normal", ()),
    ("numpy-pcg64", "integers", (("low", "0"), ("high", "1000"), ("dtype", "int64"))),
    ("torch-cpu", "normal", (("dtype", "float32"),)),
    ("python-random", "uniform", ()),
    ("numpy-philox", "uniform", ()),
]
FORMATS: list[tuple[tuple[tuple[str, str], ...], str | None]] = [
    ((("format", "raw"),), None),
    ((("format", "npy"),), None),
    ((), "application/json"),
    ((), "application/x-npy"),  # the same URI as the line above: Accept must be in the key
    ((), "application/octet-stream"),
]


def random_slices(n: int, seed: int) -> list[Slice]:
    rnd = random.Random(seed)
    out: set[Slice] = set()
    while len(out) < n:
        engine, dist, extra = rnd.choice(STREAMS)
        fmt, accept = rnd.choice(FORMATS)
        params = (("seed", str(rnd.randrange(4))), ("offset", str(rnd.randrange(30_000))),
                  ("count", str(rnd.randrange(1, 1500))), *extra, *fmt)
        out.add(Slice(f"/v1/streams/{engine}/{dist}", params, accept))
    return sorted(out, key=lambda s: (s.path, s.params, s.accept or ""))


@dataclass(frozen=True)
class Got:
    status: int
    body: bytes
    etag: str | None
    cache: str | None
    request_id: str | None


@needs_nginx
def test_replicas_behind_nginx(topology: Topology) -> None:
    slices = random_slices(SLICES, 1)
    reference = TestClient(create_app())
    expected = {}
    for s in slices:
        r = reference.get(s.path, params=dict(s.params), headers=s.headers)
        assert r.status_code == 200, r.text
        expected[s] = (r.content, r.headers["etag"])

    def fetch(job: tuple[Slice, str]) -> Got:
        s, rid = job
        r = httpx.get(topology.url + s.path, params=dict(s.params),
                      headers={**s.headers, "X-Request-ID": rid}, timeout=60)
        return Got(r.status_code, r.content, r.headers.get("etag"),
                   r.headers.get("x-cache-status"), r.headers.get("x-request-id"))

    first_jobs = [(s, f"first-{i}") for i, s in enumerate(slices)]
    victim_port, victim, _ = topology.replicas[0]
    with ThreadPoolExecutor(6) as pool:
        head = list(pool.map(fetch, first_jobs[:SLICES // 3]))
        victim.send_signal(signal.SIGKILL)  # mid-run: requests are in flight around it
        tail = list(pool.map(fetch, first_jobs[SLICES // 3:]))
        victim.wait(timeout=10)
        first = head + tail
        again = list(pool.map(fetch, [(s, f"again-{i}") for i, s in enumerate(slices)]))

    for phase in (first, again):
        failed = [(s, g.status) for s, g in zip(slices, phase, strict=True) if g.status != 200]
        assert not failed, f"{len(failed)} of {len(phase)} requests failed: {failed[:5]}"
        for s, g in zip(slices, phase, strict=True):
            body, etag = expected[s]
            assert g.body == body, s
            assert g.etag == etag, s
    assert [g.request_id for g in first] == [rid for _, rid in first_jobs]
    assert all(g.cache == "MISS" for g in first), {g.cache for g in first}
    assert all(g.cache == "HIT" for g in again), {g.cache for g in again}

    # nginx's log: which replica answered each request.
    time.sleep(0.5)
    log = [json.loads(line) for line in topology.access_log.read_text().splitlines()]
    by_id = {rec["request_id"]: rec for rec in log}
    answered_by = {by_id[rid]["upstream"].split(", ")[-1] for _, rid in first_jobs}
    alive = {f"127.0.0.1:{p}" for p, _, _ in topology.replicas[1:]}
    assert alive <= answered_by  # the load is spread
    after_kill = [by_id[rid] for _, rid in first_jobs[SLICES // 3 + 6:]]
    retried = [r for r in log if ", " in r["upstream"]]
    assert all(r["upstream"].split(", ")[-1] in alive for r in after_kill)
    assert sum(by_id[f"again-{i}"]["cache"] == "HIT" for i in range(SLICES)) == SLICES

    # Each replica logged the requests it answered under nginx's request id, once; the
    # cache hits reached none.
    served: dict[str, int] = {}
    for _, _, path in topology.replicas:
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                rec = json.loads(line)
                if rec.get("event") == "request" and rec["request_id"].startswith(
                        ("first-", "again-")):
                    served[rec["request_id"]] = served.get(rec["request_id"], 0) + 1
    assert not [rid for rid in served if rid.startswith("again-")]
    survivors = {f"first-{i}" for i in range(SLICES)
                 if by_id[f"first-{i}"]["upstream"].split(", ")[-1] in alive}
    assert survivors <= set(served)

    # Direct to each surviving replica: the same ETag and bytes as the reference.
    for port, _, _ in topology.replicas[1:]:
        for s in slices[:10]:
            r = httpx.get(f"http://127.0.0.1:{port}{s.path}", params=dict(s.params),
                          headers=s.headers)
            assert (r.content, r.headers["etag"]) == expected[s]

    print(f"\nnginx: {2 * SLICES} requests through nginx, 0 failed; replica "
          f"127.0.0.1:{victim_port} killed after {SLICES // 3}; {len(retried)} retried on "
          f"another replica; {SLICES} cache hits of {SLICES} repeats; answered by "
          f"{sorted(answered_by)}")


@needs_nginx
def test_errors_are_not_cached_and_credentials_bypass_the_cache(topology: Topology) -> None:
    path = "/v1/streams/numpy-legacy/uniform"
    for _ in range(2):
        r = httpx.get(topology.url + path, params={"seed": 1, "count": -1})
        assert r.status_code == 422
        assert r.headers["x-cache-status"] == "MISS"
        assert r.json()["request_id"] == r.headers["x-request-id"]
    query: dict[str, str | int] = {"seed": 3, "count": 9, "format": "raw"}
    httpx.get(topology.url + path, params=query)
    assert httpx.get(topology.url + path, params=query).headers["x-cache-status"] == "HIT"
    with_key = httpx.get(topology.url + path, params=query,
                         headers={"Authorization": "Bearer k"})
    assert with_key.headers["x-cache-status"] == "BYPASS"
    assert httpx.get(topology.url + "/metrics").status_code == 404
    etag = httpx.get(topology.url + path, params=query).headers["etag"]
    assert httpx.get(topology.url + path, params=query,
                     headers={"If-None-Match": etag}).status_code == 304
