"""A client process of the concurrency tests: threads that claim from one cursor through
several servers, retrying 503s and connection errors with the same idempotency key; prints
the claims it got, one JSON object per line. No torch and no app import: it starts fast.

    python -m tests.support.claim_worker RUN CURSOR CLAIMS THREADS URL [URL...]
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid

import httpx


def claim(url: str, run: str, cursor: str, count: int, worker: str) -> dict[str, object]:
    key = uuid.uuid4().hex
    for attempt in range(50):
        try:
            resp = httpx.post(f"{url}/v1/runs/{run}/cursors/{cursor}/claims", timeout=30,
                              json={"count": count, "worker": worker, "key": key})
        except httpx.TransportError:
            time.sleep(0.05 * (attempt + 1))
            continue
        if resp.status_code == 503:
            time.sleep(0.05 * (attempt + 1))
            continue
        resp.raise_for_status()
        body: dict[str, object] = resp.json()
        return body
    raise RuntimeError("no claim after 50 attempts")


def main(argv: list[str]) -> int:
    run, cursor, claims, threads, *urls = argv
    out: list[dict[str, object]] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        rng = random.Random(f"{uuid.uuid4()}")
        for i in range(int(claims)):
            got = claim(urls[(t + i) % len(urls)], run, cursor, rng.randint(1, 20),
                        f"pid-thread-{t}")
            with lock:
                out.append(got)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(int(threads))]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    for c in out:
        print(json.dumps(c))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
