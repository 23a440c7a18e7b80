"""torch-cuda: the CPU emulation against Random123's known answers, the published
torch.rand values, an independent reference (tests/support/cuda_reference.py) and real CUDA
(when this machine has it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.cuda import _philox  # type: ignore[attr-defined]
from app.core.cuda.devices import DEVICES
from app.core.streams import StreamService
from tests.support import cuda_reference
from tests.support.gpu_model import using
from tests.support.oracle import same_bits

ROOT = Path(__file__).resolve().parents[2]
KAT = [  # Random123 tests/kat_vectors, philox4x32 10: counter, key, result
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6,
                                                   0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]
PUBLISHED = [0.3990, 0.5167, 0.0249, 0.9401, 0.9459, 0.7967, 0.4150, 0.8203, 0.2290, 0.9096,
             0.1183, 0.0752]  # torch.manual_seed(0); torch.rand(12, device="cuda")


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_reference_philox_known_answers(ctr: tuple[int, ...], key: tuple[int, int],
                                        expected: tuple[int, ...]) -> None:
    out = cuda_reference.philox4x32_10([np.array([c], dtype=np.uint64) for c in ctr], key)
    assert tuple(int(o[0]) for o in out) == expected


def test_kernel_philox_known_answer() -> None:
    # one thread, four words of call 0: counter 0, key = seed 0
    words = np.frombuffer(_philox.raw32(0, 0, 4, 1), dtype=np.uint32)
    assert tuple(words.tolist()) == KAT[0][2]


def test_published_torch_rand_on_cuda() -> None:
    got = StreamService().slice("torch-cuda", "uniform", 0, 0, 12)
    assert np.round(got.astype(np.float64), 4).tolist() == PUBLISHED
    ref = cuda_reference.uniform(0, 12, DEVICES["h100-sxm"].wave, "float32", 0.0, 1.0)
    assert same_bits(got, ref)


@settings(max_examples=60)
@given(seed=st.integers(0, 2**64 - 1), sms=st.sampled_from([1, 2, 3]),
       tps=st.sampled_from([256, 512, 1024]), offset=st.integers(0, 5000),
       count=st.integers(0, 400), dtype=st.sampled_from(["float32", "float64", "float16",
                                                          "bfloat16"]),
       bounds=st.sampled_from([(0.0, 1.0), (-3.0, 7.5), (0.25, 0.5), (-1000.0, 1000.0)]))
def test_uniform_matches_the_reference_across_waves(seed: int, sms: int, tps: int, offset: int,
                                                    count: int, dtype: str,
                                                    bounds: tuple[float, float]) -> None:
    """Small launch profiles put the wave edge (256..3072 elements) inside the slices."""
    low, high = bounds
    got = StreamService().slice("torch-cuda", "uniform", seed, offset, count, dtype, (),
                                low=low, high=high, sms=sms, threads_per_sm=tps)
    ref = cuda_reference.uniform(seed, offset + count, 256 * sms * (tps // 256), dtype, low, high)
    assert same_bits(got, ref[offset:])


@settings(max_examples=60)
@given(seed=st.integers(0, 2**64 - 1), sms=st.sampled_from([1, 2, 5]), offset=st.integers(0, 4000),
       count=st.integers(0, 300), case=st.sampled_from([
           ("int64", 0, 10), ("int64", -(2**40), 2**40), ("int32", -5, 2**28 + 3),
           ("int32", -5, 2**28 - 6), ("int8", -128, 128), ("uint8", 0, 256),
           ("uint64", 0, 2**63 - 1), ("int16", -300, 300)]))
def test_integers_match_the_reference_across_waves(seed: int, sms: int, offset: int, count: int,
                                                   case: tuple[str, int, int]) -> None:
    dtype, low, high = case
    got = StreamService().slice("torch-cuda", "integers", seed, offset, count, dtype, (),
                                low=low, high=high, sms=sms, threads_per_sm=256)
    ref = cuda_reference.integers(seed, offset + count, 256 * sms, dtype, low, high)
    assert same_bits(got, ref[offset:])


def test_profiles_agree_within_the_first_wave_and_differ_past_it(client: TestClient) -> None:
    def get(device: str, offset: int) -> Any:
        return client.get("/v1/streams/torch-cuda/uniform", params={
            "seed": 3, "offset": offset, "count": 5, "device": device}).json()["values"]

    a100 = DEVICES["a100"].wave
    assert get("a100", a100 - 5) == get("h100-sxm", a100 - 5)
    listed = next(e for e in client.get("/v1/engines").json()["engines"]
                  if e["name"] == "torch-cuda")["devices"]
    assert listed["a100"] == {"sms": 108, "threads_per_sm": 2048}
    assert get("a100", a100) != get("h100-sxm", a100)


def test_offset_increment_and_call_facts(client: TestClient) -> None:
    body = client.get("/v1/streams/torch-cuda/uniform",
                      params={"seed": 0, "count": 12}).json()
    assert body["local_call"]["cuda_offset_increment"] == 4
    wave = DEVICES["h100-sxm"].wave
    big = client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "offset": 4 * wave, "count": 1, "format": "raw"})
    # 4 * wave + 1 floats: more than one unrolled wave of curand4 calls -> 2 calls per thread
    assert big.headers["x-cuda-offset-increment"] == "8"
    f64 = client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "offset": 2 * wave, "count": 1, "dtype": "float64"}).json()
    assert f64["local_call"]["cuda_offset_increment"] == 8  # unroll 2 for double


def test_what_cannot_be_served_says_why(client: TestClient) -> None:
    with using(client, None):  # a CPU-only authority, whatever this machine has
        normal = client.get("/v1/streams/torch-cuda/normal", params={"seed": 0, "count": 4})
    assert normal.status_code == 501
    assert "GPU" in normal.json()["message"]
    assert client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "count": 4, "device": "z80"}).json()["parameter"] == "device"
    assert client.get("/v1/streams/torch-cpu/uniform", params={
        "seed": 0, "count": 4, "device": "a100"}).json()["parameter"] == "device"
    assert client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "count": 4, "device": "a100", "sms": 3}).json()["parameter"] == "device"
    assert client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "count": 4, "threads_per_sm": 1000}).json()["parameter"] == "threads_per_sm"
    far = client.get("/v1/streams/torch-cuda/uniform", params={
        "seed": 0, "count": 4, "offset": 2**31})
    assert far.status_code == 422
    assert far.json()["parameter"] == "offset"
    assert client.get("/v1/states/torch-cuda/uniform",
                      params={"seed": 0}).json()["parameter"] == "engine"
    assert client.get("/v1/streams/torch-cuda/uniform",
                      params={"seed": 2**64 - 1, "count": 1}).status_code == 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_against_real_cuda() -> None:
    run = subprocess.run([sys.executable, "-m", "scripts.compare_cuda", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
