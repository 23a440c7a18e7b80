"""Strict input, reusable by every router.

- ``no_repeated_query``: an application-wide dependency (``create_app`` installs it), so a
  repeated query parameter (``seed=1&seed=2``) is a 422 naming it on every route, present and
  future, instead of the last value silently winning.
- ``json_bodies_only``: also application-wide: a request body that is not declared JSON
  (``Content-Type: application/json`` or ``+json``) is a 415 instead of a confusing 422.
- ``JsonInt`` / ``JsonSize``: integers in JSON bodies that refuse ``true``/``false`` (and
  strings, and floats) instead of reading them as 1/0; the OpenAPI schema says ``integer``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Annotated

from fastapi import Request
from pydantic import Field, Strict

from app.api.drift import refuse_drifted
from app.core.errors import AuthorityError, InvalidParameter


class UnsupportedMediaType(AuthorityError):
    status = 415
    code = "unsupported_media_type"

JsonInt = Annotated[int, Strict()]
"""An integer in a JSON body; booleans, strings and floats are refused."""
JsonSize = Annotated[int, Strict(), Field(ge=1, le=2**62)]
"""A size (a tensor dimension, a layer width): a strict integer >= 1."""


def no_repeated_query(request: Request) -> None:
    counts = Counter(key for key, _ in request.query_params.multi_items())
    for key, n in counts.items():
        if n > 1:
            raise InvalidParameter(key[:80], f"given {n} times; give it once")


def json_bodies_only(request: Request) -> None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if has_body and not (kind == "application/json" or
                         (kind.startswith("application/") and kind.endswith("+json"))):
        raise UnsupportedMediaType("Content-Type", f"the body must be JSON (application/json), "
                                                   f"got {kind[:60] or 'no Content-Type'!r}")


APP_CHECKS: tuple[Callable[[Request], None], ...] = (no_repeated_query, json_bodies_only,
                                                      refuse_drifted)
"""The application-wide dependencies ``create_app`` installs, in order: plain functions of
the request, so a route that skips FastAPI's dependency solving (the stream slices' fast
path) runs the very same ones."""
