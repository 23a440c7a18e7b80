"""The stream query, parsed without FastAPI: the fast path of ``GET /v1/streams``.

``StreamQuery`` (app/schemas.py) stays the declaration: it makes the OpenAPI parameters and
validates every request the parser is not sure of. The parser, compiled once from the same
field names, takes only what that model certainly accepts and reads the same way (canonical
decimal integers, known dtypes and formats, each key once, no ``run=``); anything else is
``None``, and the route hands the request to the model, which answers it exactly as it
always has, errors included. So the fast path changes speed, never an answer.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from app.core.dtypes import DTYPES
from app.schemas import PARAM_FIELDS, StreamQuery

_INT = re.compile(r"(?:0|[1-9][0-9]{0,39})\Z")
"""Canonical decimal integers up to 40 digits (seeds reach 2**128): read as the model reads
them."""
PARAMS = frozenset(PARAM_FIELDS)
FORMATS = frozenset({"json", "npy", "raw"})
DTYPE_NAMES = frozenset(DTYPES)
FIELDS = frozenset(StreamQuery.model_fields)
HANDLED = frozenset({"seed", "offset", "count", "dtype", "spawn_key", "device", "format"}) | PARAMS
"""The query names the fast path reads; the others (run=, allow_version_drift=) go to the
model."""


@dataclass(frozen=True, slots=True)
class SliceQuery:
    seed: int
    offset: int
    count: int
    dtype: str | None
    spawn_key: str | None
    device: str | None
    format: str | None
    params: dict[str, str]

    def stream_key(self, engine: str, distribution: str) -> Hashable:
        """What names the stream (not the slice): the head cache's key."""
        return (engine, distribution, self.seed, self.dtype, self.spawn_key, self.device,
                tuple(sorted(self.params.items())))


def parse(items: Sequence[tuple[str, str]]) -> SliceQuery | None:
    """The query, or None where the model must decide."""
    given = dict(items)
    if len(given) != len(items) or not given.keys() <= HANDLED:
        return None
    seed = given.get("seed")
    count = given.get("count")
    offset = given.get("offset", "0")
    if (seed is None or count is None or not _INT.match(seed) or not _INT.match(count)
            or not _INT.match(offset)):
        return None
    dtype = given.get("dtype")
    fmt = given.get("format")
    device = given.get("device")
    if ((dtype is not None and dtype not in DTYPE_NAMES)
            or (fmt is not None and fmt not in FORMATS)
            or (device is not None and not 1 <= len(device) <= 64)):
        return None
    params = {k: v for k, v in given.items() if k in PARAMS}
    return SliceQuery(int(seed), int(offset), int(count), dtype, given.get("spawn_key"),
                      device, fmt, params)
