"""Strong ETags, If-None-Match and the immutable caching headers every result carries."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.core.versions import versions

CACHE_CONTROL = "public, max-age=31536000, immutable"
ETAG_SCHEME = 1


def etag_document(ident: dict[str, Any]) -> str:
    """The canonical text an ETag hashes: the request's fields, the scheme and the versions
    that make the bits, as ``json.dumps(..., sort_keys=True)``."""
    return json.dumps({"scheme": ETAG_SCHEME, **ident, "versions": versions()}, sort_keys=True)


def etag_of(document: str) -> str:
    """The strong ETag of a canonical text (``etag_document``)."""
    return f'"{hashlib.sha256(document.encode()).hexdigest()[:40]}"'


def etag_for(ident: dict[str, Any]) -> str:
    """The same for the same request in any process of the same build: a hash of the
    request's canonical form and of the versions that make the bits."""
    return etag_of(etag_document(ident))


def versions_header() -> str:
    """``X-Versions``: what made the bits."""
    return "; ".join(f"{k}={v}" for k, v in versions().items())


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
        "X-Versions": versions_header(),
    }
