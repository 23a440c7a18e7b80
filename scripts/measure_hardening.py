"""Measure what issue #11 bounds, against a real uvicorn process on loopback:

1. a 200 MB request body (declared by Content-Length, then chunked): time to the answer and
   the server's RSS growth;
2. six concurrent ``normal_`` [7000, 7000] float64 inits (safetensors, each client retrying
   503s after Retry-After, as the Python client does): the server's peak RSS (VmHWM) and
   the time until all six are answered.

    python -m scripts.measure_hardening [--app-dir DIR] [--format safetensors]

``--app-dir`` serves another checkout's ``app`` package (e.g. the code before the issue) with
this environment, for before/after figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

MB = 1 << 20


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


@contextlib.contextmanager
def server(app_dir: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning", "--no-access-log"], cwd=app_dir,
        env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _zeros(total: int, piece: int = MB) -> Iterator[bytes]:
    chunk = b"0" * piece
    for _ in range(total // piece):
        yield chunk


def big_body(url: str, pid: int, size: int) -> None:
    for declared in (True, False):
        before = _status(pid)
        t0 = time.perf_counter()
        headers = {"content-type": "application/json"}
        if declared:
            headers["content-length"] = str(size)
        try:
            r = httpx.post(f"{url}/v1/tensors/init", content=_zeros(size), headers=headers,
                           timeout=120)
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = f"{type(exc).__name__} (the server closed the connection)"
        took = time.perf_counter() - t0
        after = _status(pid)
        how = "Content-Length" if declared else "chunked"
        print(f"{size // MB} MB body ({how}): answer {status} in {took:.3f} s; server RSS "
              f"{before['VmRSS'] / MB:.0f} -> {after['VmRSS'] / MB:.0f} MB "
              f"(+{(after['VmRSS'] - before['VmRSS']) / MB:.0f} MB), peak "
              f"{before['VmHWM'] / MB:.0f} -> {after['VmHWM'] / MB:.0f} MB")


def inits(url: str, pid: int, n: int, side: int, fmt: str) -> None:
    base = _status(pid)
    body = {"seed": 1, "init": "normal_", "shape": [side, side], "dtype": "float64"}
    retried = 0

    def one(i: int) -> int:
        nonlocal retried
        with httpx.Client(base_url=url, timeout=300) as c:
            for _ in range(60):
                r = c.post("/v1/tensors/init", json={**body, "seed": i}, params={"format": fmt})
                if r.status_code != 503:
                    return len(r.content) if r.status_code == 200 else -r.status_code
                retried += 1
                time.sleep(float(r.headers.get("retry-after", "1")))
                del r
        return -503

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        sizes = list(pool.map(one, range(n)))
    took = time.perf_counter() - t0
    peak = _status(pid)
    print(f"{n} concurrent normal_ [{side}, {side}] float64 inits ({fmt}): "
          f"{sum(s > 0 for s in sizes)}/{n} answered 200 in {took:.1f} s, {retried} 503s "
          f"retried; server RSS at rest {base['VmRSS'] / MB:.0f} MB, peak (VmHWM) "
          f"{peak['VmHWM'] / MB:.0f} MB; bodies {sorted(set(sizes))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-dir", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--format", default="safetensors")
    parser.add_argument("--inits", type=int, default=6)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--body-mb", type=int, default=200)
    args = parser.parse_args()
    with server(args.app_dir, {}) as (url, pid):
        big_body(url, pid, args.body_mb * MB)
    with server(args.app_dir, {}) as (url, pid):
        inits(url, pid, args.inits, args.side, args.format)


if __name__ == "__main__":
    main()
