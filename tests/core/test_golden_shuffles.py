"""The service against committed golden index orders (scripts/make_golden_shuffles.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.permutations import METHODS, PermutationService, resolve_permutation
from app.core.samplers import (
    base_seed,
    distributed_shard,
    epoch_order,
    loader_epoch,
    shard_slice,
)

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "shuffles.json").read_text())
SERVICE = PermutationService()


def _digest(values: Any) -> str:
    return hashlib.sha256(np.asarray(values, dtype="<i8").tobytes()).hexdigest()


def test_every_engine_has_golden_permutations() -> None:
    assert {e["engine"] for e in GOLDEN["permutations"]} == set(METHODS)


@pytest.mark.parametrize("e", GOLDEN["permutations"],
                         ids=lambda e: f"{e['engine']}-{e['seed']}-{e['n']}")
def test_permutations(e: dict[str, Any]) -> None:
    values = SERVICE.full(resolve_permutation(e["engine"], e["n"], e["seed"]))
    assert values[:8].tolist() == e["head"]
    assert _digest(values) == e["sha256"]


@pytest.mark.parametrize("e", GOLDEN["distributed"], ids=lambda e: f"{e['n']}-{e['rank']}")
def test_distributed(e: dict[str, Any]) -> None:
    shard = distributed_shard(e["n"], e["num_replicas"], e["rank"], e["seed"], e["epoch"],
                              e["shuffle"], e["drop_last"], SERVICE)
    assert (shard.num_samples, shard.total_size) == (e["num_samples"], e["total_size"])
    parts = list(shard_slice(SERVICE, shard, 0, shard.num_samples, np.dtype("<i8")))
    values = np.concatenate(parts)
    assert values[:8].tolist() == e["head"]
    assert _digest(values) == e["sha256"]


@pytest.mark.parametrize("e", GOLDEN["dataloader"], ids=lambda e: f"{e['n']}-{e['epoch']}")
def test_dataloader(e: dict[str, Any]) -> None:
    epoch = loader_epoch(e["n"], e["seed"], e["epoch"], service=SERVICE)
    assert base_seed(epoch) == e["base_seed"]
    values = epoch_order(SERVICE, epoch)
    assert values[:8].tolist() == e["head"]
    assert _digest(values) == e["sha256"]
