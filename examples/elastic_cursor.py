"""Workers that start and stop at random consume one shared cursor; the union of their
claims is one local call.

Each worker process joins at a random moment, claims a few random-sized slices of the run's
cursor, consumes them and leaves; some crash right after claiming. Their claims are
re-fetched by id (as a restarted worker would: a slice is a pure function, nothing but the
reservation is stored). In offset order, all values equal
``np.random.default_rng(np.random.SeedSequence(run_seed, spawn_key=(0,))).normal(size=N)``.

    python -m examples.elastic_cursor --url http://127.0.0.1:8000 --workers 8
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import random
import time
import uuid
from typing import Any

import numpy as np

from seed_authority_client import Authority

CURSOR = ("data", "numpy-pcg64", "normal")


def worker(url: str, run: str, rank: int, results: Any) -> None:
    rng = random.Random(f"{run}-{rank}")
    time.sleep(rng.uniform(0.0, 1.5))  # joins at a random moment
    with Authority(url) as authority:
        cursor = authority.run(run).cursor(*CURSOR, spawn_key=0)
        for _ in range(rng.randint(1, 4)):
            claim = cursor.claim(rng.randint(100, 5000), worker=f"rank-{rank}")
            if rng.random() < 0.2:
                os._exit(1)  # crashes holding a claim it never consumed
            results.put((claim.id, claim.values().tobytes()))
            time.sleep(rng.uniform(0.0, 0.3))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--run", default=f"elastic-{uuid.uuid4().hex[:8]}")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(args.url, args.run, r, results))
             for r in range(args.workers)]
    for p in procs:
        p.start()
    consumed: dict[int, bytes] = {}
    while any(p.is_alive() for p in procs) or not results.empty():
        try:
            claim_id, values = results.get(timeout=0.2)
            consumed[claim_id] = values
        except Exception:  # queue.Empty: nobody finished a claim in the last 0.2 s
            continue
    for p in procs:
        p.join()
    crashed = sum(p.exitcode != 0 for p in procs)
    with Authority(args.url) as authority:
        run = authority.run(args.run)
        cursor = run.cursor(*CURSOR, spawn_key=0)
        claims = cursor.claims()
        refetched = 0
        parts = []
        for claim in claims:  # offset order
            if claim.id not in consumed:  # its worker crashed: fetch it again by id
                consumed[claim.id] = cursor.get(claim.id).values().tobytes()
                refetched += 1
            parts.append(consumed[claim.id])
        total = cursor.position()
    union = np.frombuffer(b"".join(parts), dtype=np.float64)
    local = np.random.default_rng(np.random.SeedSequence(run.seed, spawn_key=(0,))).normal(
        size=total)
    gap_free = all(a.next_offset == b.offset for a, b in itertools.pairwise(claims))
    same = gap_free and claims[0].offset == 0 and union.tobytes() == local.tobytes()
    print(f"{args.workers} workers ({crashed} crashed), {len(claims)} claims, {total} values, "
          f"{refetched} claims re-fetched by id:",
          "the union equals one local call" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
