"""Write tests/golden/shuffles.json: golden permutations, DistributedSampler shards and
DataLoader epochs, made by the libraries themselves (tests/support/shuffle_oracle.py), never by the
service. Run again only after a deliberate change of library versions, then review the diff.

    python -m scripts.make_golden_shuffles
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from app.core.permutations import METHODS
from app.core.registry import ENGINES
from tests.support import shuffle_oracle

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "shuffles.json"
HEAD = 8


def digest(values: Any) -> str:
    return hashlib.sha256(np.asarray(values, dtype="<i8").tobytes()).hexdigest()


def permutations() -> list[dict[str, Any]]:
    out = []
    for engine in METHODS:
        sizes = [1, 2, 10, 1000, 4096 if engine == "python-random" else 65_536]
        for seed in (0, 7, ENGINES[engine].seed_max):
            for n in sizes:
                p = shuffle_oracle.permutation(engine, n, seed)
                out.append({"engine": engine, "seed": seed, "n": n,
                            "head": p[:HEAD].tolist(), "sha256": digest(p)})
    return out


def shards() -> list[dict[str, Any]]:
    out = []
    for n, replicas, rank, seed, epoch, shuffle, drop_last in [
            (10, 3, 1, 0, 0, True, False), (1001, 8, 7, 42, 3, True, False),
            (1001, 8, 2, 42, 3, True, True), (100_000, 4, 0, 2**63, 99, True, False),
            (17, 5, 4, 0, 0, False, False)]:
        shard, num_samples, total_size = shuffle_oracle.distributed(n, replicas, rank, seed,
                                                                    epoch, shuffle, drop_last)
        out.append({"n": n, "num_replicas": replicas, "rank": rank, "seed": seed,
                    "epoch": epoch, "shuffle": shuffle, "drop_last": drop_last,
                    "num_samples": num_samples, "total_size": total_size,
                    "head": shard[:HEAD], "sha256": digest(shard)})
    return out


def epochs() -> list[dict[str, Any]]:
    out = []
    for n, seed, count in [(1, 3, 2), (1000, 7, 4), (5000, 2**64 - 1, 3)]:
        g = torch.Generator().manual_seed(seed)
        dataset: Any = range(n)
        loader: DataLoader[int] = DataLoader(dataset, shuffle=True, generator=g,
                                             batch_size=None)
        for epoch in range(count):
            it = iter(loader)
            base = int(it._base_seed)
            order = [int(i) for i in it]
            out.append({"n": n, "seed": seed, "epoch": epoch, "base_seed": base,
                        "head": order[:HEAD], "sha256": digest(order)})
    return out


def main() -> None:
    doc = {"made_with": {"numpy": np.__version__, "torch": torch.__version__},
           "permutations": permutations(), "distributed": shards(), "dataloader": epochs()}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
