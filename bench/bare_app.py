"""The least FastAPI app answering a small stream request: the yardstick of
``bench.small_requests`` (``uvicorn bench.bare_app:app``).

One ``async def`` route: ``RandomState(seed)``, skip ``offset`` values, draw ``count`` with
``random_sample``, answer ``orjson``. No validation beyond FastAPI's own, no middleware, no
metadata: what any service of this shape has to pay at least. ``/bare-fast`` builds the
generator as the service does (``RandomState(seed)`` spends ~200 us on OS entropy that its
seed then overwrites), so that comparing with it measures the framework's cost alone.
"""

from __future__ import annotations

import numpy as np
import orjson
from fastapi import FastAPI
from fastapi.responses import Response

from app.core.engines.numpy_legacy import seeded

app = FastAPI()


def _answer(rs: np.random.RandomState, seed: int, count: int, offset: int) -> Response:
    if offset:
        rs.random_sample(offset)
    values = rs.random_sample(count)
    body = orjson.dumps({"seed": seed, "offset": offset, "count": count, "values": values},
                        option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json")


@app.get("/bare/uniform")
async def uniform(seed: int, count: int, offset: int = 0) -> Response:
    return _answer(np.random.RandomState(seed), seed, count, offset)


@app.get("/bare-fast/uniform")
async def uniform_fast(seed: int, count: int, offset: int = 0) -> Response:
    """The same, with the service's cheaper way to build ``RandomState(seed)``
    (``numpy_legacy.seeded``: a bit generator without OS entropy, then the legacy seeding):
    the framework's cost alone."""
    return _answer(seeded(seed), seed, count, offset)
