"""The seeds that training frameworks give each process and DataLoader worker.

Transcribed from the frameworks' sources (they are not dependencies of this service); the
tests compare these functions with values recorded by running the frameworks' own code
(``scripts/record_framework_seeds.py``, ``tests/golden/framework_seeds.json``).

- Lightning (``lightning_fabric/utilities/seed.py``, lightning-fabric 2.6.6):
  ``seed_everything(seed)`` refuses seeds outside 0..2**32-1 (ValueError), then calls
  ``random.seed(seed)``, ``np.random.seed(seed)``, ``torch.manual_seed(seed)`` and sets
  ``PL_GLOBAL_SEED``: the same seeds on every rank. With ``workers=True`` each DataLoader
  worker runs ``pl_worker_init_function(worker_id, rank)``: ``base_seed =
  torch.initial_seed() - worker_id`` (the DataLoader's base seed), four 64-bit seeds from
  ``_generate_seed_sequence(base_seed, worker_id, rank)`` (a MurmurHash3 finaliser of
  ``base_seed << 32 | worker_id << 16 | rank``, then a Knuth LCG), ``torch.manual_seed(s0)``,
  ``random.seed((s1 << 32) | s2)``, and ``np.random.seed(SeedSequence([base_seed,
  worker_id, rank]).generate_state(4))``.
- Accelerate (``accelerate/utils/random.py``, accelerate 1.15.0): ``set_seed(seed,
  device_specific=True)`` adds ``AcceleratorState().process_index`` to the seed, then
  ``random.seed``, ``np.random.seed``, ``torch.manual_seed`` and the accelerator's
  ``manual_seed_all`` with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

UINT32_MAX = 2**32 - 1
MASK64 = 2**64 - 1


def lightning_seed_everything(seed: int) -> dict[str, Any]:
    if not 0 <= seed <= UINT32_MAX:
        return {"error": f"seed_everything raises ValueError: {seed} is not in 0..{UINT32_MAX}"}
    return {"python": seed, "numpy": seed, "torch": seed,
            "env": {"PL_GLOBAL_SEED": str(seed)},
            "code": f"from lightning.pytorch import seed_everything\n"
                    f"seed_everything({seed}, workers=True)"}


def lightning_seed_sequence(base_seed: int, worker_id: int, global_rank: int,
                            count: int) -> list[int]:
    """``lightning_fabric.utilities.seed._generate_seed_sequence``, transcribed."""
    combined = (base_seed << 32) | (worker_id << 16) | global_rank
    combined ^= combined >> 33
    combined = (combined * 0xFF51AFD7ED558CCD) & MASK64
    combined ^= combined >> 33
    combined = (combined * 0xC4CEB9FE1A85EC53) & MASK64
    combined ^= combined >> 33
    seeds = []
    for _ in range(count):
        combined = (combined * 6364136223846793005 + 1) & MASK64
        seeds.append(combined)
    return seeds


def lightning_worker(base_seed: int, worker_id: int, global_rank: int) -> dict[str, Any]:
    """What ``pl_worker_init_function(worker_id, rank)`` seeds a worker with, given the
    DataLoader's base seed (``torch.initial_seed() - worker_id`` in the worker)."""
    s = lightning_seed_sequence(base_seed, worker_id, global_rank, 4)
    numpy_words = np.random.SeedSequence([base_seed, worker_id, global_rank]).generate_state(4)
    return {"worker_id": worker_id, "rank": global_rank, "base_seed": base_seed,
            "torch": s[0], "python": (s[1] << 32) | s[2],
            "numpy": [int(w) for w in numpy_words]}


def accelerate_set_seed(seed: int, process_index: int,
                        device_specific: bool = True) -> dict[str, Any]:
    value = seed + process_index if device_specific else seed
    if value > UINT32_MAX:
        return {"error": f"set_seed: np.random.seed({value}) raises ValueError (seeds are "
                         f"0..{UINT32_MAX})"}
    return {"python": value, "numpy": value, "torch": value,
            "code": f"from accelerate.utils import set_seed\n"
                    f"set_seed({seed}, device_specific={device_specific})  "
                    f"# process_index {process_index}"}


def frameworks(seed: int, rank: int, worker_id: int | None,
               base_seed: int | None) -> dict[str, Any]:
    lightning: dict[str, Any] = {"seed_everything": lightning_seed_everything(seed)}
    if worker_id is not None and base_seed is not None:
        lightning["worker"] = lightning_worker(base_seed, worker_id, rank)
    return {"lightning": lightning,
            "accelerate": {"set_seed": accelerate_set_seed(seed, rank)}}
