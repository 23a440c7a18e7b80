"""Call replay over loopback against the same program run locally.

Prints medians and ratios (ours over HTTP / the local program) measured side by side in one
run, for a few typical programs: a large torch randn, a numpy-legacy program of many small
calls, a python-random program, in safetensors / npz / json.

    python -m bench.calls [--repeats 9] [--url http://...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import torch
from safetensors.torch import load as load_safetensors

from bench._server import running_server
from bench._timing import median_ms

Program = tuple[str, dict[str, Any], str, Callable[[], Any], Callable[[bytes], Any]]


def _torch_big() -> Any:
    g = torch.Generator().manual_seed(0)
    return torch.randn(4_000_000, generator=g)


def _legacy_small() -> Any:
    rs = np.random.RandomState(7)
    return [rs.rand(3) for _ in range(200)]


def _python_program() -> Any:
    r = random.Random(7)
    return [r.random() for _ in range(500)]


PROGRAMS: list[Program] = [
    ("torch-cpu randn(4M) safetensors",
     {"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "randn", "args": [4_000_000]}]},
     "safetensors", _torch_big, lambda body: load_safetensors(body)["r0"]),
    ("numpy-legacy 200 x rand(3) npz",
     {"engine": "numpy-legacy", "seed": 7, "calls": [{"fn": "rand", "args": [3]}] * 200},
     "npz", _legacy_small,
     lambda body: [a for _, a in sorted(np.load(io.BytesIO(body)).items(),
                                        key=lambda kv: int(kv[0][1:]))]),
    ("python-random 500 x random() json",
     {"engine": "python-random", "seed": 7, "calls": [{"fn": "random"}] * 500},
     "json", _python_program,
     lambda body: [r["values"][0] for r in httpx.Response(200, content=body).json()["results"]]),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return bool(torch.equal(a, b))
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--url", help="a running server; default: start one on loopback")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(running_server())
        client = stack.enter_context(httpx.Client(base_url=url, timeout=120))
        print("medians; ms for orientation only: quote the ratios")
        for name, body, fmt, local, decode in PROGRAMS:
            def remote(body: dict[str, Any] = body, fmt: str = fmt,
                       decode: Callable[[bytes], Any] = decode) -> Any:
                r = client.post("/v1/calls", params={"format": fmt}, json=body)
                r.raise_for_status()
                return decode(r.content)

            assert _same(remote(), local()), name
            t_remote = median_ms(remote, args.repeats)
            t_local = median_ms(local, args.repeats)
            print(f"  {name:36}: http {t_remote:8.2f} ms, local {t_local:8.2f} ms, "
                  f"ratio {t_remote / t_local:7.1f}x")


if __name__ == "__main__":
    main()
