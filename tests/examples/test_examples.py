"""The examples, run as a user would, against a live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_get_identical_outputs(live_server: str) -> None:
    run = subprocess.run([sys.executable, "-m", "examples.two_workers", "--url", live_server],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "identical across both workers and the local run" in run.stdout


def test_elastic_workers_consume_one_cursor(live_server: str) -> None:
    run = subprocess.run([sys.executable, "-m", "examples.elastic_cursor", "--url", live_server,
                          "--workers", "6"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "the union equals one local call" in run.stdout


def test_distributed_training_ranks_match_distributed_sampler(live_server: str) -> None:
    run = subprocess.run([sys.executable, "-m", "examples.distributed_training", "--url",
                          live_server, "--ranks", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "shards identical to DistributedSampler on every epoch" in run.stdout
    assert "worker seeds equal the authority's" in run.stdout
