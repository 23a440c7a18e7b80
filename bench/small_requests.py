"""Small slices per second: the service against the least FastAPI app (``bench/bare_app.py``).

Both run under uvicorn, one process each, on loopback; the same load drives them in turns,
``--rounds`` times, and the medians are compared: ``count=16`` JSON ``numpy-legacy`` uniform
slices, a random seed and a random offset below 1000 for every request (never one repeated
URL, so no cache of whole responses helps). The load is ``wrk -t1 -c32`` with a Lua script
when ``wrk`` is on PATH, else an asyncio keep-alive client of this module.

Targets (issue 10): service >= 0.8x the bare app's req/s, service p99 <= 1.5x the bare app's;
``--workers`` also runs the service with ``WEB_CONCURRENCY=2`` against one process
(target >= 1.7x). Usage::

    python -m bench.small_requests [--rounds 5] [--seconds 5] [--connections 32] [--workers]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench._server import running_server

SERVICE_PATH = "/v1/streams/numpy-legacy/uniform?seed={seed}&offset={offset}&count={count}"
BARE_PATH = "/bare/uniform?seed={seed}&offset={offset}&count={count}"
FAST_PATH = "/bare-fast/uniform?seed={seed}&offset={offset}&count={count}"
BARE_HEALTH = "/bare/uniform?seed=1&count=1"

LUA = """
local template = "%s"
local count = %d
math.randomseed(%d)
request = function()
  local path = string.format(template, math.random(0, 2147483646), math.random(0, 999), count)
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
              + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
                         latency:percentile(50), latency:percentile(99), bad))
end
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _lua_template(path: str) -> str:
    return path.replace("{seed}", "%d").replace("{offset}", "%d").replace("{count}", "%d")


def run_wrk(url: str, path: str, count: int, seconds: float, connections: int) -> Result:
    script = LUA % (_lua_template(path), count, random.randrange(1 << 30))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", f.name, url],
            capture_output=True, text=True, check=True).stdout
    finally:
        Path(f.name).unlink()
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    requests, duration_us, p50_us, p99_us, errors = (int(x) for x in line.split()[1:])
    return Result(requests / (duration_us / 1e6), p50_us / 1e3, p99_us / 1e3, errors)


async def _client_loop(host: str, port: int, path: str, count: int, stop_at: float,
                       latencies: list[float], errors: list[int], rng: random.Random) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            target = path.format(seed=rng.randrange(2**31 - 1), offset=rng.randrange(1000),
                                 count=count)
            began = time.perf_counter()
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def run_asyncio(url: str, path: str, count: int, seconds: float, connections: int) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors: list[int] = []

    async def drive() -> float:
        began = time.perf_counter()
        stop_at = began + seconds
        await asyncio.gather(*(
            _client_loop(host, port, path, count, stop_at, latencies, errors,
                         random.Random(i)) for i in range(connections)))
        return time.perf_counter() - began

    elapsed = asyncio.run(drive())
    latencies.sort()
    return Result(len(latencies) / elapsed, 1e3 * latencies[len(latencies) // 2],
                  1e3 * latencies[int(len(latencies) * 0.99)], len(errors))


def _median(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results),
                  statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results),
                  sum(r.errors for r in results))


def _show(name: str, r: Result) -> str:
    return (f"{name:<28} {r.rps:9.0f} req/s   p50 {r.p50_ms:6.2f} ms   p99 {r.p99_ms:6.2f} ms"
            + (f"   ERRORS {r.errors}" if r.errors else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--workers", action="store_true",
                    help="also compare WEB_CONCURRENCY=2 with one process")
    ap.add_argument("--load", choices=("auto", "wrk", "asyncio"), default="auto")
    args = ap.parse_args()
    use_wrk = args.load == "wrk" or (args.load == "auto" and shutil.which("wrk") is not None)
    drive: Callable[[str, str, int, float, int], Result] = run_wrk if use_wrk else run_asyncio
    print(f"load: {'wrk -t1' if use_wrk else 'asyncio client'}, {args.connections} connections,"
          f" {args.rounds} rounds x {args.seconds:g} s each, count={args.count}, random seeds "
          "and offsets < 1000")

    def load(url: str, path: str) -> Result:
        return drive(url, path, args.count, args.seconds, args.connections)

    with contextlib.ExitStack() as stack:
        service = stack.enter_context(running_server(quiet=True))
        bare = stack.enter_context(running_server(app="bench.bare_app:app", health=BARE_HEALTH,
                                                  quiet=True))
        targets = {"service": (service, SERVICE_PATH), "bare": (bare, BARE_PATH),
                   "bare-fast": (bare, FAST_PATH)}
        for url, path in targets.values():  # warm up
            load(url, path)
        results: dict[str, list[Result]] = {name: [] for name in targets}
        for i in range(args.rounds):
            for name, (url, path) in targets.items():
                results[name].append(load(url, path))
            o, t, f = (results[n][-1] for n in targets)
            print(f"  round {i + 1}: service {o.rps:6.0f} req/s, bare {t.rps:6.0f} "
                  f"({o.rps / t.rps:.2f}x), bare-fast {f.rps:6.0f} ({o.rps / f.rps:.2f}x); "
                  f"p99 {o.p99_ms:.1f} / {t.p99_ms:.1f} / {f.p99_ms:.1f} ms")
    print("medians:")
    print(_show("  service (1 process)", _median(results["service"])))
    print(_show("  bare FastAPI app", _median(results["bare"])))
    print(_show("  bare, service's seeding", _median(results["bare-fast"])))
    for name, label in (("bare", "bare app"), ("bare-fast", "bare app with the service's "
                                                              "seeding")):
        ratios = [a.rps / b.rps for a, b in zip(results["service"], results[name], strict=True)]
        p99 = [a.p99_ms / b.p99_ms for a, b in zip(results["service"], results[name],
                                                   strict=True)]
        print(f"  service / {label}: req/s {statistics.median(ratios):.2f}x (target >= 0.8x), "
              f"p99 {statistics.median(p99):.2f}x (target <= 1.5x); medians of per-round "
              "ratios")
    if not args.workers:
        return
    two: list[Result] = []
    one: list[Result] = []
    with contextlib.ExitStack() as stack:
        single = stack.enter_context(running_server(quiet=True))
        double = stack.enter_context(running_server({"WEB_CONCURRENCY": "2"}, quiet=True))
        load(single, SERVICE_PATH)
        load(double, SERVICE_PATH)
        for _ in range(args.rounds):
            one.append(load(single, SERVICE_PATH))
            two.append(load(double, SERVICE_PATH))
    print(_show("  service, 1 process", _median(one)))
    print(_show("  service, WEB_CONCURRENCY=2", _median(two)))
    scaling = [a.rps / b.rps for a, b in zip(two, one, strict=True)]
    print(f"  2 processes / 1: {statistics.median(scaling):.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
