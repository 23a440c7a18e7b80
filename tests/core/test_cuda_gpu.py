"""torch-cuda generated on a GPU (``app.core.cuda.gpu``), tested on the CPU.

``Gpu.call`` is the only code that touches the device: one local torch call of n elements
made at a generator offset. Here a model device replaces it with the independent reference
(tests/support/cuda_reference.py: torch's launch grid for n, Philox counter offset/4 + k) and checks
torch's preconditions (set_offset takes multiples of 4). What is tested is everything else:
which calls, at which offsets, make a slice, and that the slice is the contract's reference
call (a fresh generator, one call of offset + count elements). Real CUDA runs the same
comparison in ``scripts/compare_cuda`` (tests/core/test_cuda.py runs it when a GPU is there).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.config import Settings
from app.core.cuda import gpu
from app.core.cuda.gpu import Gpu
from app.core.spec import Number, Params
from tests.support.gpu_model import ModelGpu, model_gpu, on, using
from tests.support.oracle import same_bits

CASES = [
    ("uniform", "float32", {"low": 0.0, "high": 1.0}),
    ("uniform", "float64", {"low": 0.0, "high": 1.0}),
    ("uniform", "float16", {"low": -3.0, "high": 7.5}),
    ("uniform", "bfloat16", {"low": 0.0, "high": 1.0}),
    ("uniform", "float64", {"low": -2.0, "high": 5.0}),
    ("normal", "float32", {"loc": 0.0, "scale": 1.0}),
    ("normal", "float64", {"loc": 0.0, "scale": 1.0}),
    ("normal", "bfloat16", {"loc": 0.0, "scale": 1.0}),
    ("integers", "int64", {"low": 0, "high": 10}),
    ("integers", "int64", {"low": -(2**40), "high": 2**40}),
    ("integers", "int32", {"low": -5, "high": 2**28 + 3}),
    ("integers", "uint8", {"low": 0, "high": 256}),
]


@settings(max_examples=80)
@given(seed=st.integers(0, 2**64 - 1), sms=st.sampled_from([1, 2, 3]),
       tps=st.sampled_from([256, 512]), case=st.sampled_from(CASES),
       offset=st.integers(0, 7000), count=st.integers(0, 700),
       max_call=st.sampled_from([1, 1 << 25]))
def test_gpu_slices_are_the_reference_call(seed: int, sms: int, tps: int,
                                           case: tuple[str, str, dict[str, Number]], offset: int,
                                           count: int, max_call: int) -> None:
    """Small launch waves (256..1536 threads) put wave and call edges inside the slices;
    max_call=1 makes every unrolled wave its own GPU call."""
    dist, dtype, params = case
    model = model_gpu(sms, tps)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpu, "MAX_CALL_ELEMENTS", max_call)
        got = on(model).slice("torch-cuda", dist, seed, offset, count, dtype, (),
                                    **params, sms=sms, threads_per_sm=tps)
        unroll = 2 if dtype == "float64" or (
            dist == "integers" and params["high"] - params["low"] >= 2**28) else 4
        per_call = model.wave * unroll
        for philox_offset, n in model.calls:  # whole unrolled waves: the full grid
            assert n % per_call == 0
            assert n >= model.wave
            assert philox_offset // 4 * per_call <= offset + count
        want = model.reference(seed, offset + count, dist, dtype, params)
    assert same_bits(got, want[offset:])
    if dist != "normal":  # and the CPU emulation agrees
        emulated = on(None).slice("torch-cuda", dist, seed, offset, count, dtype, (),
                                  **params, sms=sms, threads_per_sm=tps)
        assert same_bits(emulated, got)


def test_calls_start_at_the_slices_curand_call() -> None:
    model = model_gpu(1, 256)  # wave 256, 1024 float32 per unrolled wave
    on(model).slice("torch-cuda", "uniform", 5, 5000, 3000, "float32", (),
                    low=0.0, high=1.0, sms=1, threads_per_sm=256)
    assert model.calls == [(4 * 4, 4 * 1024)]  # elements 4096..8191: curand calls 4..7
    model = model_gpu(1, 256)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpu, "MAX_CALL_ELEMENTS", 2048)
        on(model).slice("torch-cuda", "uniform", 5, 5000, 3000, "float64", (),
                        low=0.0, high=1.0, sms=1, threads_per_sm=256)
    # float64: unroll 2, 512 per wave; elements 4608..8191 are calls 9..15, 4 waves a call
    assert model.calls == [(36, 2048), (52, 1536)]


def test_http_serves_normal_on_the_gpus_own_profile(client: TestClient) -> None:
    query = {"seed": 11, "offset": 300, "count": 3900, "sms": 2, "threads_per_sm": 256}
    model = model_gpu(2, 256)
    with using(client, model):
        own = client.get("/v1/streams/torch-cuda/normal", params=query)
        other = client.get("/v1/streams/torch-cuda/normal", params={"seed": 11, "count": 4})
        emulated = client.get("/v1/streams/torch-cuda/uniform", params={"seed": 11, "count": 4})
        listed = next(e for e in client.get("/v1/engines").json()["engines"]
                      if e["name"] == "torch-cuda")
    assert own.status_code == 200
    body = own.json()
    want = model.reference(11, 4200, "normal", "float32", {"loc": 0.0, "scale": 1.0})[300:]
    assert same_bits(np.array(body["values"], dtype=np.float32), want)
    assert own.headers["x-cuda-generated-on"].startswith("gpu: cuda:0 Model GPU (2 SMs")
    assert body["local_call"]["generated_on"] == own.headers["x-cuda-generated-on"]
    assert body["local_call"]["cuda_offset_increment"] == 4 * 3  # 4200 floats, 2048 per curand call
    assert other.status_code == 422
    assert other.json()["parameter"] == "device"
    assert "sms=2&threads_per_sm=256" in other.json()["message"]
    assert emulated.headers["x-cuda-generated-on"] == "cpu: Philox emulation"
    assert listed["generated_on"].startswith("gpu: cuda:0 Model GPU")
    with using(client, None):  # a CPU-only authority
        without = client.get("/v1/streams/torch-cuda/normal", params=query)
        listed_cpu = next(e for e in client.get("/v1/engines").json()["engines"]
                          if e["name"] == "torch-cuda")
    assert without.status_code == 501
    assert listed_cpu["generated_on"] == "cpu: Philox emulation"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_setting_without_cuda() -> None:
    assert gpu.detect("auto") is None
    assert gpu.detect("off") is None
    with pytest.raises(ValueError, match="no such CUDA device"):
        gpu.detect("cuda:0")


def test_gpu_setting_is_validated() -> None:
    assert Settings(cuda="off").cuda == "off"
    assert Settings(cuda="cuda:1").cuda == "cuda:1"
    with pytest.raises(ValidationError):
        Settings(cuda="gpu please")


class _RecordingGenerator(torch.Generator):
    offsets: list[int] = []  # noqa: RUF012 (one test's record)

    def set_offset(self, offset: int) -> torch.Generator:
        self.offsets.append(offset)
        return self


@dataclass(frozen=True)
class _CpuStandIn(Gpu):
    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


@pytest.mark.parametrize(("dist", "dtype", "params", "local"), [
    ("uniform", "float32", {"low": -2.0, "high": 3.0},
     lambda g: torch.empty(50, dtype=torch.float32).uniform_(-2.0, 3.0, generator=g)),
    ("uniform", "bfloat16", {"low": 0.0, "high": 1.0},
     lambda g: torch.empty(50, dtype=torch.bfloat16).uniform_(0.0, 1.0, generator=g)),
    ("normal", "float64", {"loc": 5.0, "scale": 0.5},
     lambda g: torch.empty(50, dtype=torch.float64).normal_(5.0, 0.5, generator=g)),
    ("integers", "int16", {"low": -7, "high": 9},
     lambda g: torch.randint(-7, 9, (50,), dtype=torch.int16, generator=g)),
])
def test_the_device_call_is_the_reference_call(monkeypatch: pytest.MonkeyPatch, dist: str,
                                               dtype: str, params: dict[str, Number],
                                               local: Callable[[torch.Generator],
                                                               torch.Tensor]) -> None:
    """Gpu.call, the one function that runs on the device, run on the CPU (a generator that
    records set_offset, which CPU generators lack): the torch call it makes is the README's
    reference call, argument for argument, and it sets the offset it is given."""
    monkeypatch.setattr(torch, "Generator", _RecordingGenerator)
    monkeypatch.setattr(torch.cuda, "device", lambda device: nullcontext())
    monkeypatch.setattr(_RecordingGenerator, "offsets", [])
    made = _CpuStandIn(0, "cpu", 1, 256).call(77, 36, 50, dist, dtype, params)
    assert _RecordingGenerator.offsets == [36]
    want = local(_RecordingGenerator().manual_seed(77))
    assert made.dtype == want.dtype
    assert torch.equal(made, want)


@dataclass(frozen=True)
class _TightModel(ModelGpu):
    """A model device with memory for at most ``most`` elements a call."""

    most: int = 0

    def call(self, seed: int, philox_offset: int, n: int, dist: str, dtype: str,
             p: Params) -> torch.Tensor:
        if n > self.most:
            raise torch.OutOfMemoryError("CUDA out of memory (model)")
        return super().call(seed, philox_offset, n, dist, dtype, p)


def test_gpu_memory_pressure_retries_small_then_answers_503(client: TestClient) -> None:
    tight = _TightModel(0, "Model GPU", 1, 256, most=1024)  # one unrolled float32 wave
    query = {"seed": 4, "offset": 1000, "count": 3000, "sms": 1, "threads_per_sm": 256,
             "format": "raw"}
    with using(client, tight):
        got = client.get("/v1/streams/torch-cuda/uniform", params=query)
    assert got.status_code == 200
    want = ModelGpu(0, "Model GPU", 1, 256).reference(4, 4000, "uniform", "float32",
                                                       {"low": 0.0, "high": 1.0})[1000:]
    assert same_bits(np.frombuffer(got.content, dtype=np.float32), want)
    with using(client, _TightModel(0, "Model GPU", 1, 256, most=0)):
        full = client.get("/v1/streams/torch-cuda/normal", params=query)
    assert full.status_code == 503
    assert full.json()["error"] == "unavailable"
    assert full.json()["parameter"] == "count"
    assert "out of memory" in full.json()["message"]
