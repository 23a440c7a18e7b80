"""Start the service (or another ASGI app) under uvicorn on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx


@contextlib.contextmanager
def running_server(extra_env: dict[str, str] | None = None, app: str = "app.main:app",
                   health: str = "/healthz", workers: int | None = None,
                   quiet: bool = False) -> Iterator[str]:
    """``app`` under uvicorn (one process, or ``workers`` of them) until the block ends;
    yields its base URL once ``health`` answers 200."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port",
               str(port), "--log-level", "warning", "--no-access-log"]
    if workers is not None:
        command += ["--workers", str(workers)]
    # the server's log lines (one per request) are written, as in production, but not shown
    proc = subprocess.Popen(command, env={**os.environ, **(extra_env or {})},
                            stderr=subprocess.DEVNULL if quiet else None)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}{health}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
