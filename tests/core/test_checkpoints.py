"""The checkpoint cache: nearest lookup, parked generators, memory bound."""

from __future__ import annotations

import threading

from app.core.checkpoints import CheckpointCache


def _position(cache: CheckpointCache[object], stream: str, position: int) -> int | None:
    found = cache.nearest(stream, position)
    return None if found is None else found.position


def test_nearest_is_the_largest_position_at_or_before() -> None:
    cache: CheckpointCache[object] = CheckpointCache(10_000)
    for pos in (0, 100, 50):
        cache.put("s", pos, f"state{pos}", 10)
    assert _position(cache, "s", 49) == 0
    found = cache.nearest("s", 100)
    assert found is not None
    assert (found.position, found.payload, found.live) == (100, "state100", False)
    assert cache.nearest("other", 100) is None
    assert cache.nearest("s", 100) is not None  # saved states stay


def test_a_parked_generator_goes_to_one_taker_and_is_preferred() -> None:
    cache: CheckpointCache[object] = CheckpointCache(10_000)
    cache.put("s", 10, "state", 10)
    cache.put("s", 10, "generator", 10, live=True)
    first = cache.nearest("s", 12)
    second = cache.nearest("s", 12)
    assert first is not None
    assert second is not None
    assert (first.payload, first.live) == ("generator", True)
    assert (second.payload, second.live) == ("state", False)
    assert cache.stats().parked == 0


def test_parked_generators_are_taken_once_under_contention() -> None:
    cache: CheckpointCache[object] = CheckpointCache(1_000_000)
    for _ in range(200):
        cache.put("s", 0, object(), 10, live=True)  # replaces: one parked at a time
    cache.put("t", 5, "gen", 10, live=True)
    taken: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        found = cache.nearest("t", 5)
        if found is not None:
            taken.append(found.payload)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken == ["gen"]


def test_memory_stays_within_budget_evicting_least_recently_used() -> None:
    cache: CheckpointCache[object] = CheckpointCache(1000)
    for pos in range(50):
        cache.put("s", pos, pos, 100)
        assert cache.stats().bytes <= 1000
    stats = cache.stats()
    assert stats.checkpoints == 10
    assert stats.evictions == 40
    assert _position(cache, "s", 45) == 45
    assert cache.nearest("s", 39) is None  # evicted
    cache.put("s", 100, "too big", 5000)  # over the whole budget: not kept
    assert _position(cache, "s", 100) == 49
