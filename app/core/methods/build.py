"""One place that turns a method description into a registry ``Distribution``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.core.dtypes import DType
from app.core.spec import Array, Distribution, Params

NONFINITE_NOTE = ("Elements may be inf or nan where the library makes them (JSON prints them "
                  "as the strings \"inf\", \"-inf\", \"nan\").")


def distribution(*, name: str, params: Any, dtypes: tuple[str, ...],
                 draw: Callable[[Any, Params, DType, int], Array],
                 call: Callable[[Params, DType, int | str], str],
                 check: Callable[[Params, DType], None], cost_ns: float,
                 units: Callable[[Params, DType], int | None], access: str, notes: str,
                 refused_dtypes: Mapping[str, str], block: int = 1) -> Distribution[Any]:
    return Distribution(
        name=name, params=tuple(params), dtypes=dtypes, default_dtype=dtypes[0], draw=draw,
        call=call, check=check, cost_ns=cost_ns, units=units, access_with_seek=access,
        notes=notes,
        refused_dtypes=dict(refused_dtypes), block=block)
