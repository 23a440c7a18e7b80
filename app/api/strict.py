"""Strict input, reusable by every router.

- ``no_repeated_query``: an application-wide dependency (``create_app`` installs it), so a
  repeated query parameter (``seed=1&seed=2``) is a 422 naming it on every route, present and
  future, instead of the last value silently winning.
- ``JsonInt`` / ``JsonSize``: integers in JSON bodies that refuse ``true``/``false`` (and
  strings, and floats) instead of reading them as 1/0; the OpenAPI schema says ``integer``.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import Request
from pydantic import Field, Strict

from app.core.errors import InvalidParameter

JsonInt = Annotated[int, Strict()]
"""An integer in a JSON body; booleans, strings and floats are refused."""
JsonSize = Annotated[int, Strict(), Field(ge=1, le=2**62)]
"""A size (a tensor dimension, a layer width): a strict integer >= 1."""


def no_repeated_query(request: Request) -> None:
    counts = Counter(key for key, _ in request.query_params.multi_items())
    for key, n in counts.items():
        if n > 1:
            raise InvalidParameter(key[:80], f"given {n} times; give it once")
