"""Two workers build the same model and input from the authority and get identical outputs.

The model is what ``torch.manual_seed(42); nn.Sequential(nn.Linear(10, 10), nn.ReLU(),
nn.Linear(10, 2))`` makes; the input is 4x10 values of the torch-cpu normal stream with
seed 7. Each worker is its own process, fetches both over HTTP and runs the model; the
outputs are compared with each other and with the same thing done locally.

    python -m examples.two_workers --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp

import httpx
import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from torch import nn

LAYERS = [{"type": "Linear", "in_features": 10, "out_features": 10}, {"type": "ReLU"},
          {"type": "Linear", "in_features": 10, "out_features": 2}]


def model_skeleton() -> nn.Sequential:
    return nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 2))


def worker(url: str) -> bytes:
    with httpx.Client(base_url=url, timeout=30) as client:
        weights = client.post("/v1/modules/init", json={"seed": 42, "modules": LAYERS},
                              params={"format": "safetensors"})
        weights.raise_for_status()
        batch = client.get("/v1/streams/torch-cpu/normal",
                           params={"seed": 7, "count": 40, "format": "npy"})
        batch.raise_for_status()
    model = model_skeleton()
    model.load_state_dict(load_safetensors(weights.content))
    x = torch.from_numpy(np.load(io.BytesIO(batch.content))).reshape(4, 10)
    with torch.no_grad():
        return bytes(model(x).numpy().tobytes())


def local() -> bytes:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        model = model_skeleton()
    g = torch.Generator().manual_seed(7)
    x = torch.empty(48).normal_(generator=g)[:40].reshape(4, 10)  # whole 16-blocks
    with torch.no_grad():
        return bytes(model(x).numpy().tobytes())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    args = ap.parse_args()
    with mp.get_context("spawn").Pool(2) as pool:
        outputs = pool.map(worker, [args.url, args.url])
    same = outputs[0] == outputs[1] == local()
    print("worker outputs:", np.frombuffer(outputs[0], dtype=np.float32).reshape(4, 2).tolist())
    print("identical across both workers and the local run" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
