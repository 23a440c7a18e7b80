"""Waiting for a server the tests started (the service under uvicorn, nginx)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_ready(proc: subprocess.Popen[bytes], health_url: str, what: str = "the service",
               timeout: float = 300.0, log: Path | None = None) -> None:
    """Until ``health_url`` answers 200; a RuntimeError naming ``what`` (and the end of its
    ``log``) if the process exits or ``timeout`` seconds pass (importing torch takes a
    minute or more on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            tail = f": {log.read_text()[-3000:]}" if log is not None else ""
            raise RuntimeError(f"{what} did not start{tail}")
        time.sleep(0.2)
