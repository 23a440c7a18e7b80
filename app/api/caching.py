"""Strong ETags, If-None-Match and the immutable caching headers every result carries."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.core.versions import versions

CACHE_CONTROL = "public, max-age=31536000, immutable"
ETAG_SCHEME = 1


def etag_for(ident: dict[str, Any]) -> str:
    """The same for the same request in any process of the same build: a hash of the
    request's canonical form and of the versions that make the bits."""
    doc = {"scheme": ETAG_SCHEME, **ident, "versions": versions()}
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:40]}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def cache_headers(etag: str) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept",
        "X-Versions": "; ".join(f"{k}={v}" for k, v in versions().items()),
    }
