"""Streams asked for once (a random seed per request) leave nothing behind, and the cycle
collector runs on a short leash (issue 10: the p99 of small slices).

Once the checkpoint cache was full, each such request parked a generator and evicted
another: allocations and deallocations balanced, CPython's young generation grew to tens of
thousands of objects between collections, and the collection that finally ran stalled the
event loop for 40-90 ms."""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.gc_pacing import GcPacer
from app.api.slice_meta import HeadCache, SliceHead
from app.config import Settings
from app.core.streams import Limits, StreamService, resolve
from app.main import create_app
from tests.support.oracle import reference, same_bits

URL = "/v1/streams/numpy-legacy/uniform"


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that run while the test does."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)


def test_streams_asked_for_once_leave_no_checkpoint_and_no_parked_generator() -> None:
    app = create_app(Settings(gc_pace_requests=0))
    client = TestClient(app)
    rng = random.Random(5)
    for _ in range(200):
        seed, offset = rng.randrange(2**31), rng.randrange(1000)
        r = client.get(URL, params={"seed": seed, "offset": offset, "count": 16})
        assert r.status_code == 200
        expected = reference("numpy-legacy", "uniform", seed, offset + 16, "float64",
                             {"low": 0.0, "high": 1.0}, start=offset)
        assert same_bits(np.array(r.json()["values"]), expected)
    stats = app.state.streams.cache.stats()
    assert (stats.parked, stats.checkpoints) == (0, 0)

def test_a_head_is_kept_from_its_streams_second_request_on() -> None:
    cache = HeadCache(size=8)
    head = SliceHead(resolve("numpy-legacy", "uniform", 3))
    cache.put("k", head)
    assert cache.get("k") is None
    cache.put("k", head)
    assert cache.get("k") is head


def test_the_head_cache_forgets_what_it_saw_once_at_its_size() -> None:
    cache = HeadCache(size=4)
    head = SliceHead(resolve("numpy-legacy", "uniform", 3))
    cache.put("a", head)
    for k in "bcde":  # the fifth key seen once clears the notes: "a" is new again
        cache.put(k, head)
    cache.put("a", head)
    assert cache.get("a") is None
    cache.put("a", head)
    assert cache.get("a") is head


def test_a_slice_parks_its_generator_only_where_it_is_dear_to_reach() -> None:
    svc = StreamService()
    svc.slice("numpy-legacy", "uniform", 1, 500, 16)
    assert svc.cache.stats().parked == 0  # 516 values: cheaper to regenerate than to keep
    n = 200_000
    first = svc.slice("numpy-legacy", "normal", 1, 0, n)
    assert svc.cache.stats().parked == 1
    hits = svc.cache.stats().hits
    second = svc.slice("numpy-legacy", "normal", 1, n, 10)
    assert svc.cache.stats().hits == hits + 1  # resumed from the parked generator
    expected = reference("numpy-legacy", "normal", 1, n + 10, "float64",
                         {"loc": 0.0, "scale": 1.0})
    assert same_bits(np.concatenate([first, second]), expected)
    always = StreamService(Limits(park_after_ms=0))
    always.slice("numpy-legacy", "uniform", 1, 500, 16)
    assert always.cache.stats().parked == 1


def test_the_pacer_collects_young_often_and_middle_every_tenth_time(
        collections: list[int]) -> None:
    pacer = GcPacer(every=4, older_every=3)
    for _ in range(3):
        pacer.tick()
    assert collections == []
    pacer.tick()
    assert collections == [0]
    for _ in range(8):
        pacer.tick()
    assert collections == [0, 0, 1]
    with pytest.raises(ValueError, match="at least 1"):
        GcPacer(every=0)


def test_the_service_paces_the_collector_per_request(collections: list[int]) -> None:
    client = TestClient(create_app(Settings(gc_pace_requests=2)))
    for seed in range(4):
        assert client.get(URL, params={"seed": seed, "count": 1}).status_code == 200
    assert collections.count(0) >= 2
