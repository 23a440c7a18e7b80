"""N worker processes each fetch their shard of one stream; the union is one local call.

    python -m examples.distributed_workers --url http://127.0.0.1:8000 --workers 4
"""

from __future__ import annotations

import argparse
import multiprocessing as mp

import numpy as np

from seed_authority_client import Authority

ENGINE, DIST, SEED, TOTAL = "numpy-legacy", "normal", 2024, 1_000_000


def shard(args: tuple[str, int, int]) -> tuple[int, bytes]:
    url, rank, workers = args
    per = TOTAL // workers
    start, stop = rank * per, TOTAL if rank == workers - 1 else (rank + 1) * per
    with Authority(url) as authority:
        stream = authority.stream(ENGINE, DIST, seed=SEED)
        values = np.concatenate(list(stream.chunks(start, stop, size=50_000)))
    return rank, values.tobytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    with mp.get_context("spawn").Pool(args.workers) as pool:
        parts = dict(pool.map(shard, [(args.url, r, args.workers) for r in range(args.workers)]))
    union = np.frombuffer(b"".join(parts[r] for r in range(args.workers)), dtype=np.float64)
    local = np.random.RandomState(SEED).normal(0.0, 1.0, TOTAL)
    same = union.tobytes() == local.tobytes()
    print(f"{args.workers} workers, {TOTAL} values:",
          "the union equals np.random.RandomState(2024).normal(0, 1, 1000000)" if same
          else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
