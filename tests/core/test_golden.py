"""The service against committed golden vectors (made by scripts/make_golden.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from app.core.dtypes import DTYPES
from app.core.streams import StreamService
from tests.support.strategies import ENTRIES

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "streams.json").read_text())
CAPABILITY = torch.backends.cpu.get_cpu_capability()
VECTOR_KERNELS = {"AVX2", "AVX512"}  # the same float kernels in this wheel


def _capability_dependent(e: dict[str, Any]) -> bool:
    return (e["engine"] == "torch-cpu" and e["distribution"] in ("uniform", "normal")
            and e["dtype"] != "float64")


def _comparable(e: dict[str, Any]) -> bool:
    made = GOLDEN["made_with"]["torch_cpu_capability"]
    same_kernels = made == CAPABILITY or {CAPABILITY, made} <= VECTOR_KERNELS
    return same_kernels or not _capability_dependent(e)


def test_every_registry_entry_has_golden_vectors() -> None:
    covered = {(e["engine"], e["distribution"], e["dtype"]) for e in GOLDEN["entries"]}
    missing = sorted(set(ENTRIES) - covered)
    assert not missing, f"no golden vectors for {missing}: run python -m scripts.make_golden"


@pytest.mark.parametrize("entry", GOLDEN["entries"],
                         ids=lambda e: f"{e['engine']}-{e['distribution']}-{e['dtype']}-"
                                       f"{e['seed']}-{'-'.join(map(str, e['params'].values()))}")
def test_golden_vector(entry: dict[str, Any]) -> None:
    if not _comparable(entry):
        pytest.skip(f"made on {GOLDEN['made_with']['torch_cpu_capability']} kernels, "
                    f"this host runs {CAPABILITY}")
    svc = StreamService()
    args = (entry["engine"], entry["distribution"], entry["seed"])
    n = entry["n"]
    # in two slices, so the golden run also checks the join
    a = svc.slice(*args, 0, n // 3, entry["dtype"], **entry["params"])
    b = svc.slice(*args, n // 3, n - n // 3, entry["dtype"], **entry["params"])
    assert hashlib.sha256(a.tobytes() + b.tobytes()).hexdigest() == entry["sha256"]
    assert DTYPES[entry["dtype"]].exact_values(a[:8]).tolist() == entry["head"]
