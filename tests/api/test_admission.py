"""Issue #11: the process-wide memory budget (app/api/admission.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient

from app.api.admission import MemoryBudget
from app.config import Settings
from app.core.errors import TooLarge, Unavailable
from app.main import create_app


def test_a_request_larger_than_the_budget_is_413_naming_the_total() -> None:
    budget = MemoryBudget(1000)
    with pytest.raises(TooLarge) as err:
        budget.reserve(1001, "shape")
    assert err.value.parameter == "shape"
    assert "1000" in err.value.reason
    assert budget.stats().refused_too_large == 1


def test_requests_wait_their_turn_and_never_exceed_the_budget() -> None:
    budget = MemoryBudget(100, queue_timeout_s=10)
    held = 0
    peak = 0
    lock = threading.Lock()

    def work(n: int) -> None:
        nonlocal held, peak
        with budget.reserve(n, "x"):
            with lock:
                held += n
                peak = max(peak, held)
            time.sleep(0.01)
            with lock:
                held -= n

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, [60, 30, 50, 40, 70, 10] * 5))
    assert peak <= 100
    stats = budget.stats()
    assert stats.reserved == 0
    assert stats.in_flight == 0
    assert stats.peak_reserved <= 100


def test_a_wait_past_the_timeout_is_a_503_with_retry_after() -> None:
    budget = MemoryBudget(100, queue_timeout_s=0.05)
    first = budget.reserve(80, "x")
    t0 = time.monotonic()
    with pytest.raises(Unavailable) as err:
        budget.reserve(30, "shape")
    assert time.monotonic() - t0 >= 0.05
    assert err.value.status == 503
    assert int(err.value.headers["Retry-After"]) >= 1
    first.release()
    first.release()  # idempotent
    assert budget.stats().reserved == 0
    budget.reserve(100, "x").release()


def test_a_full_queue_refuses_at_once() -> None:
    budget = MemoryBudget(10, queue_timeout_s=5, max_waiting=0)
    held = budget.reserve(10, "x")
    t0 = time.monotonic()
    with pytest.raises(Unavailable):
        budget.reserve(1, "x")
    assert time.monotonic() - t0 < 1
    held.release()


def test_first_come_first_served() -> None:
    """A large request at the head of the queue is not overtaken by small ones."""
    budget = MemoryBudget(100, queue_timeout_s=10)
    order: list[str] = []
    held = budget.reserve(60, "x")

    def big() -> None:
        with budget.reserve(100, "x"):
            order.append("big")

    def small() -> None:
        with budget.reserve(10, "x"):
            order.append("small")

    t1 = threading.Thread(target=big)
    t1.start()
    while budget.stats().waiting < 1:
        time.sleep(0.001)
    t2 = threading.Thread(target=small)
    t2.start()
    while budget.stats().waiting < 2:
        time.sleep(0.001)
    held.release()
    t1.join()
    t2.join()
    assert order == ["big", "small"]


def test_a_held_response_releases_after_it_is_sent() -> None:
    budget = MemoryBudget(100)
    ticket = budget.reserve(50, "x")
    with ticket:
        response = ticket.hold(Response(b"abc"))
    assert budget.stats().reserved == 50  # still held: the body is not sent yet
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    import asyncio

    asyncio.run(response({"type": "http", "method": "GET", "headers": []}, receive, send))
    assert sent[-1]["body"] == b"abc"
    assert budget.stats().reserved == 0


def test_an_error_inside_the_reservation_releases_it() -> None:
    budget = MemoryBudget(100)
    with pytest.raises(RuntimeError), budget.reserve(50, "x"):
        raise RuntimeError
    assert budget.stats().reserved == 0


def _init(shape: list[int], fmt: str = "safetensors") -> dict[str, Any]:
    return {"json": {"seed": 1, "init": "normal_", "shape": shape, "dtype": "float64"},
            "params": {"format": fmt}}


def test_inits_over_the_whole_budget_are_413() -> None:
    c = TestClient(create_app(Settings(memory_budget=8 << 20)))
    r = c.post("/v1/tensors/init", **_init([1000, 1000]))  # 8 MB + a chunk
    assert r.status_code == 413
    assert r.json()["parameter"] == "shape"
    assert str(8 << 20) in r.json()["message"]
    assert c.post("/v1/tensors/init", **_init([100, 100])).status_code == 200
    r = c.post("/v1/modules/init", json={"seed": 1, "modules": [
        {"type": "Linear", "in_features": 1000, "out_features": 1000}]})
    assert r.status_code == 413
    assert r.json()["parameter"] == "modules"


def test_concurrent_inits_are_admitted_within_the_budget() -> None:
    budget = 24 << 20
    app = create_app(Settings(memory_budget=budget, queue_timeout_s=60))
    c = TestClient(app)
    peaks: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peaks.append(app.state.memory_budget.stats().reserved)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: c.post("/v1/tensors/init",
                                               **_init([1000, 1000])).status_code, range(6)))
    stop.set()
    watcher.join()
    assert codes == [200] * 6
    assert max(peaks) <= budget
    assert app.state.memory_budget.stats().peak_reserved <= budget
    assert app.state.memory_budget.stats().reserved == 0


def test_a_busy_budget_answers_503_with_retry_after() -> None:
    app = create_app(Settings(memory_budget=24 << 20, queue_timeout_s=0.01))
    held = app.state.memory_budget.reserve(20 << 20, "x")
    try:
        r = TestClient(app).post("/v1/tensors/init", **_init([1000, 1000]))
    finally:
        held.release()
    assert r.status_code == 503
    assert r.json()["error"] == "unavailable"
    assert r.json()["parameter"] == "memory"
    assert int(r.headers["retry-after"]) >= 1
