from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from app.config import get_settings
from app.main import create_app
from tests.support.databases import BACKENDS, database
from tests.support.servers import wait_ready

# Runs, cursors and audit rows of the tests go to a throw-away SQLite file, never the
# default ./seed-authority.db (tests/api/test_runs.py also runs everything on PostgreSQL).
os.environ["SEED_AUTHORITY_DATABASE_URL"] = (
    f"sqlite:///{tempfile.mkdtemp(prefix='seed-authority-tests-')}/runs.db")
get_settings.cache_clear()

settings.register_profile(
    "default", deadline=None, print_blob=True,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "400")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: an SQLite file, a fresh PostgreSQL schema."""
    with database(request.param, tmp_path) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """The service under uvicorn, as the README runs it, on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "SEED_AUTHORITY_CHUNK_BYTES": "65536"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, f"{url}/healthz")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
