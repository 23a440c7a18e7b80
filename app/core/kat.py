"""The drift guard: known-answer vectors regenerated and compared bit for bit.

Another numpy or torch build, or another CPU kernel, can change a stream's bits while every
version string stays the same. ``check`` regenerates the first values of every engine x
distribution x dtype (app/core/kat.json, taken from the committed golden set by
scripts/make_kat.py) and names those that differ; the service refuses to serve them (503)
rather than serve other bits, and its readiness probe fails naming them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from app.core.dtypes import DTYPES
from app.core.errors import AuthorityError
from app.core.spec import CPU_ONLY, Array, Runtime

KAT_FILE = Path(__file__).with_name("kat.json")
StreamKey = tuple[str, str, str]
"""(engine, distribution, dtype)."""
Generate = Callable[[str, str, int, int, str, Mapping[str, Any]], Array]
"""(engine, distribution, seed, count, dtype, params) -> the first ``count`` values."""


@cache
def vectors() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(KAT_FILE.read_text())["vectors"])


def generate_on(runtime: Runtime) -> Generate:
    """Values as a fresh service on this runtime makes them (a GPU authority's own)."""

    def generate(engine: str, distribution: str, seed: int, count: int, dtype: str,
                 params: Mapping[str, Any]) -> Array:
        from app.core.streams import StreamService

        service = StreamService(runtime=runtime)
        return service.slice(engine, distribution, seed, 0, count, dtype, (), **params)

    return generate


default_generate = generate_on(CPU_ONLY)


def check(generate: Generate = default_generate) -> dict[StreamKey, str]:
    """The streams whose first values differ from their known answers, with what differs
    (streams this process does not serve at all, a 501, are not checked)."""
    drifted: dict[StreamKey, str] = {}
    for v in vectors():
        key = (v["engine"], v["distribution"], v["dtype"])
        head = v["head"]
        try:
            got = DTYPES[v["dtype"]].exact_values(
                generate(v["engine"], v["distribution"], v["seed"], len(head), v["dtype"],
                         v["params"])).tolist()
        except AuthorityError as exc:
            if exc.status == 501:
                continue  # not served by this process (jax-threefry normal without JAX)
            drifted[key] = f"failed: {type(exc).__name__}"
            continue
        except Exception as exc:  # a stream that cannot even generate has drifted too
            drifted[key] = f"failed: {type(exc).__name__}"
            continue
        if got != head:
            i = next((j for j, (a, b) in enumerate(zip(got, head, strict=False)) if a != b),
                     min(len(got), len(head)))
            drifted[key] = (f"seed {v['seed']} element {i}: {got[i] if i < len(got) else None!r}"
                            f", known answer {head[i] if i < len(head) else None!r}")
    return drifted
