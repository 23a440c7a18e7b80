"""Cursor claims per second on SQLite and PostgreSQL, and what the audit trail costs.

For each database a service is started under uvicorn (audit off, then on) and measured side
by side in one run:

- claims/s: THREADS clients claiming from one cursor at once over HTTP (keep-alive), against
  the same clients' stateless slice requests/s (seed=, count=1) on the same server;
- the audit trail: median time of a run= slice request with SEED_AUTHORITY_AUDIT=on against
  off.

    python -m bench.claims [--claims 400] [--threads 8] [--postgres URL]

PostgreSQL: default postgresql://postgres@127.0.0.1:5432/test (a throw-away schema is made
and dropped); --postgres none skips it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
from sqlalchemy import create_engine, text

from bench._server import running_server

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def postgres(url: str) -> Iterator[str]:
    schema = f"sa_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def rate(n: int, threads: int, one: Callable[[httpx.Client], None], url: str) -> float:
    """Requests per second of ``threads`` clients making ``n`` requests in all."""
    per = n // threads
    clients = [httpx.Client(base_url=url, timeout=60) for _ in range(threads)]

    def work(c: httpx.Client) -> None:
        for _ in range(per):
            one(c)

    pool = [threading.Thread(target=work, args=(c,)) for c in clients]
    t0 = time.perf_counter()
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.close()
    return per * threads / elapsed


def claim(c: httpx.Client) -> None:
    c.post("/v1/runs/bench/cursors/data/claims", json={"count": 100}).raise_for_status()


def stateless(c: httpx.Client) -> None:
    c.get("/v1/streams/numpy-pcg64/uniform", params={"seed": 1, "count": 1}).raise_for_status()


def run_slice(c: httpx.Client) -> None:
    c.get("/v1/streams/numpy-pcg64/uniform",
          params={"run": "bench", "count": 1, "spawn_key": 3}).raise_for_status()


def per_request_ms(url: str, fn: Callable[[httpx.Client], None], n: int) -> float:
    with httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(20):
            fn(c)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn(c)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def measure(name: str, db_url: str, args: argparse.Namespace) -> None:
    results: dict[str, float] = {}
    for audit in ("off", "on"):
        env = {"SEED_AUTHORITY_DATABASE_URL": db_url, "SEED_AUTHORITY_AUDIT": audit,
               "SEED_AUTHORITY_LOG_LEVEL": "warning"}
        with running_server(env) as url:
            httpx.put(f"{url}/v1/runs/bench").raise_for_status()
            httpx.put(f"{url}/v1/runs/bench/cursors/data",
                      json={"engine": "numpy-pcg64", "distribution": "uniform"}
                      ).raise_for_status()
            if audit == "off":
                reps = [(rate(args.claims, args.threads, claim, url),
                         rate(args.claims, args.threads, stateless, url))
                        for _ in range(args.repeats)]
                results["claims"] = statistics.median(r[0] for r in reps)
                results["stateless"] = statistics.median(r[1] for r in reps)
                results["seed_ms"] = per_request_ms(url, stateless, args.requests)
            results[f"run_ms_{audit}"] = per_request_ms(url, run_slice, args.requests)
            if audit == "on":
                pos = httpx.get(f"{url}/v1/runs/bench/audit", params={"limit": 1}).json()
                assert pos["rows"], "audit on but no rows"
    print(f"{name}:")
    print(f"  claims/s ({args.threads} clients at once): {results['claims']:8.0f}  "
          f"({results['claims'] / results['stateless']:.2f}x the stateless slice requests/s "
          f"of the same clients, {results['stateless']:.0f}/s)")
    on, off = results["run_ms_on"], results["run_ms_off"]
    print(f"  run= slice request, median: {off:.2f} ms audit off, {on:.2f} ms audit on "
          f"({on / off:.2f}x); "
          f"seed= request {results['seed_ms']:.2f} ms "
          f"(run= costs {results['run_ms_off'] / results['seed_ms']:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--claims", type=int, default=400)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--postgres", default=PG_DEFAULT)
    args = ap.parse_args()
    print("medians; absolute figures depend on the machine: quote the ratios")
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite (file, WAL)", f"sqlite:///{tmp}/bench.db", args)
    if args.postgres != "none":
        with postgres(args.postgres) as url:
            measure("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
