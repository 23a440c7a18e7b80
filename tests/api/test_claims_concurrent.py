"""Concurrent claims: several client processes through two service processes sharing one
PostgreSQL database, threads on one SQLite file, and a database connection cut mid-way.
Claims must be disjoint and gap-free, and their union one local call."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.core.runs import Claim, DatabaseUnavailable
from app.db.store import Database
from tests.conftest import _free_port
from tests.support.databases import PG_URL, postgres_schema
from tests.support.servers import wait_ready
from tests.support.tcp_proxy import Proxy

ROOT = Path(__file__).resolve().parents[2]
CURSOR = {"engine": "numpy-pcg64", "distribution": "uniform", "spawn_key": "5"}


def check_partition(claims: list[dict[str, Any]], position: int) -> None:
    """Disjoint, gap-free, from 0 to the cursor's position; every id once."""
    ordered = sorted(claims, key=lambda c: c["offset"])
    assert len({c["id"] for c in claims}) == len(claims)
    at = 0
    for c in ordered:
        assert c["offset"] == at, (c, at)
        assert c["next_offset"] == c["offset"] + c["count"]
        at = c["next_offset"]
    assert at == position


def start_server(db_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "SEED_AUTHORITY_DATABASE_URL": db_url, "SEED_AUTHORITY_LOG_LEVEL":
           "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, cwd=ROOT)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def two_servers() -> Iterator[list[str]]:
    """Two service processes on one PostgreSQL database (a fresh schema)."""
    with postgres_schema() as db_url:
        servers = [start_server(db_url) for _ in range(2)]
        try:
            for proc, url in servers:
                wait_ready(proc, f"{url}/healthz")
            yield [url for _, url in servers]
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=20)


def test_claims_from_processes_through_two_servers(two_servers: list[str]) -> None:
    a, b = two_servers
    run_seed = random.getrandbits(128)
    assert httpx.put(f"{a}/v1/runs/multi", json={"seed": run_seed}).status_code == 201
    assert httpx.put(f"{b}/v1/runs/multi").json()["seed"] == run_seed
    assert httpx.put(f"{b}/v1/runs/multi/cursors/data", json=CURSOR).status_code == 201
    workers = [subprocess.Popen([sys.executable, "-m", "tests.support.claim_worker", "multi",
                                 "data", "10", "5", a, b], stdout=subprocess.PIPE, cwd=ROOT)
               for _ in range(4)]
    claims = []
    for w in workers:
        out, _ = w.communicate(timeout=240)
        assert w.returncode == 0
        claims += [json.loads(line) for line in out.splitlines()]
    assert len(claims) == 4 * 5 * 10
    position = httpx.get(f"{a}/v1/runs/multi/cursors/data").json()["position"]
    check_partition(claims, position)
    listed = httpx.get(f"{b}/v1/runs/multi/cursors/data/claims",
                       params={"limit": 1000}).json()["claims"]
    assert sorted(c["id"] for c in listed) == sorted(c["id"] for c in claims)
    expected = np.random.default_rng(np.random.SeedSequence(run_seed, spawn_key=(5,))).random(
        position)
    union = httpx.get(f"{a}/v1/streams/numpy-pcg64/uniform", params={
        "run": "multi", "spawn_key": 5, "count": position, "format": "raw"}).content
    assert union == expected.tobytes()  # the union of the claims is one local call
    for c in random.sample(claims, 12):  # and each claim's url serves its slice
        got = httpx.get(f"{b}{c['url']}&format=raw").content
        assert got == expected[c["offset"]:c["next_offset"]].tobytes()


def _claim_threads(db: Database, threads: int, per_thread: int,
                   on_error: list[str]) -> list[Claim]:
    out: list[Claim] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        rng = random.Random(t)
        for _ in range(per_thread):
            key, n = uuid.uuid4().hex, rng.randint(1, 9)
            for _attempt in range(200):
                try:
                    got, _, _ = db.claim("r", "c", n, f"t{t}", key)
                    break
                except DatabaseUnavailable as e:
                    on_error.append(e.reason)
                    time.sleep(0.02)
            else:
                raise AssertionError("no claim")
            with lock:
                out.append(got)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    return out


def _cursor_db(url: str) -> Database:
    db = Database(url)
    db.create_run("r", seed=1)
    from app.core.runs import CursorSpec
    db.create_cursor("r", "c", CursorSpec("numpy-pcg64", "uniform", "float64",
                                          {"low": 0.0, "high": 1.0}, ()))
    return db


def test_threads_on_one_sqlite_file(tmp_path: Path) -> None:
    db = _cursor_db(f"sqlite:///{tmp_path / 'c.db'}")
    errors: list[str] = []
    claims = _claim_threads(db, 8, 25, errors)
    assert errors == []
    check_partition([c.as_dict() for c in claims], db.get_cursor("r", "c").position)
    db.dispose()


def test_database_cut_mid_claims_never_duplicates() -> None:
    """Connections die while 6 threads claim; every claim is committed whole or not at all,
    and a retry with its key gets the claim that was committed, never a second range."""
    with postgres_schema() as url:
        host, port = PG_URL.split("@")[1].split("/")[0].split(":")
        proxy = Proxy((host, int(port)))
        db = _cursor_db(url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}"))
        errors: list[str] = []
        done: list[Claim] = []
        runner = threading.Thread(target=lambda: done.extend(_claim_threads(db, 6, 40, errors)))
        runner.start()
        for _ in range(3):
            time.sleep(0.3)
            proxy.cut()
            time.sleep(0.3)
            proxy.resume()
        runner.join(timeout=120)
        assert not runner.is_alive()
        assert errors, "the cut was never noticed"
        assert len(done) == 6 * 40
        position = db.get_cursor("r", "c").position
        check_partition([c.as_dict() for c in done], position)
        listed, _ = db.list_claims("r", "c", 1000)
        assert sorted(c.id for c in listed) == sorted(c.id for c in done)
        db.dispose()
        proxy.close()
