"""Seeded inits over loopback against the same torch call made locally.

Prints medians and ratios (ours / local torch) measured side by side in one run, for a
4096x4096 kaiming_uniform_ tensor and a small transformer's state_dict, in safetensors.

    python -m bench.inits [--repeats 9]
"""

from __future__ import annotations

import argparse
import contextlib

import httpx
import torch
from safetensors.torch import load as load_safetensors
from torch import nn

from bench._server import running_server
from bench._timing import median_ms

LAYERS = [{"type": "Embedding", "num_embeddings": 1000, "embedding_dim": 256},
          {"type": "TransformerEncoderLayer", "d_model": 256, "nhead": 8,
           "dim_feedforward": 1024},
          {"type": "Linear", "in_features": 256, "out_features": 1000}]


def local_tensor() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return nn.init.kaiming_uniform_(torch.empty(4096, 4096), a=5**0.5, generator=g)


def local_model() -> dict[str, torch.Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Embedding(1000, 256),
                              nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024),
                              nn.Linear(256, 1000))
    return dict(model.state_dict())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server())
        client = stack.enter_context(httpx.Client(base_url=url, timeout=120))

        def remote_tensor() -> torch.Tensor:
            r = client.post("/v1/tensors/init", params={"format": "safetensors"}, json={
                "seed": 1, "init": "kaiming_uniform_", "shape": [4096, 4096],
                "args": {"a": 5**0.5}})
            return load_safetensors(r.content)["tensor"]

        def remote_model() -> dict[str, torch.Tensor]:
            r = client.post("/v1/modules/init", params={"format": "safetensors"},
                            json={"seed": 1, "modules": LAYERS})
            return load_safetensors(r.content)

        assert torch.equal(remote_tensor(), local_tensor())
        assert all(torch.equal(remote_model()[k], v) for k, v in local_model().items())
        rows = [("kaiming_uniform_ 4096x4096 float32", remote_tensor, local_tensor),
                ("Embedding+TransformerEncoderLayer+Linear", remote_model, local_model)]
        print("medians; ms for orientation only: quote the ratios")
        for name, remote, local in rows:
            t_remote = median_ms(remote, args.repeats)
            t_local = median_ms(local, args.repeats)
            print(f"  {name:42}: http+safetensors {t_remote:7.1f} ms, local torch "
                  f"{t_local:7.1f} ms, ratio {t_remote / t_local:.2f}x")


if __name__ == "__main__":
    main()
