"""API keys and per-client rate limits, for every ``/v1`` request.

- Keys (``SEED_AUTHORITY_API_KEYS``, comma-separated, and/or ``SEED_AUTHORITY_API_KEYS_FILE``,
  one per line): when any is set, a ``/v1`` request needs ``Authorization: Bearer <key>``,
  compared in constant time against every key; otherwise a 401 with
  ``WWW-Authenticate: Bearer``. Probes (``/healthz``, ``/readyz``, ``/metrics``) and the
  documentation stay open.
- Rate limit (``SEED_AUTHORITY_RATE_LIMIT`` requests per second, burst
  ``SEED_AUTHORITY_RATE_BURST``): a token bucket per key, or per client address when keys are
  off; over it a 429 with ``Retry-After``. Buckets live in this process: N replicas behind a
  balancer admit up to N times the rate.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import error_response

PROTECTED = "/v1"
MAX_BUCKETS = 65_536


def load_keys(inline: str, file: str | None) -> list[str]:
    """The configured keys: the comma-separated list, then the file's non-empty lines that
    do not start with ``#``."""
    keys = [k.strip() for k in inline.split(",") if k.strip()]
    if file:
        for raw in Path(file).read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                keys.append(line)
    return keys


class KeyRing:
    """Keys held as SHA-256 digests; a lookup compares against every one, in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def identify(self, presented: str) -> str | None:
        """A stable, non-secret id of the key presented, or None if it is not one of ours."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = False
        for d in self._digests:
            found |= hmac.compare_digest(d, digest)
        return "key:" + digest[:8].hex() if found else None


class TokenBuckets:
    """``rate`` tokens per second up to ``burst`` per client; the least recently seen
    clients are forgotten past MAX_BUCKETS (a forgotten client starts with a full bucket)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, max(burst, 1)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """0 if the request may go, else the seconds until it could."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """ASGI middleware: the key check, then the rate limit, for paths under ``/v1``."""

    def __init__(self, app: ASGIApp, keys: KeyRing, buckets: TokenBuckets | None) -> None:
        self.app, self.keys, self.buckets = app, keys, buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PROTECTED or path.startswith(PROTECTED + "/")):
            await self.app(scope, receive, send)
            return
        client = f"addr:{scope['client'][0]}" if scope.get("client") else "addr:unknown"
        if self.keys:
            scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
            who = self.keys.identify(token.strip()) if scheme.lower() == "bearer" else None
            if who is None:
                problem = "missing" if not token else "not a valid key"
                response = error_response(
                    401, "unauthorized", "Authorization",
                    f"Authorization: {problem}; send `Authorization: Bearer <api key>`",
                    {"WWW-Authenticate": 'Bearer realm="seed-authority"'})
                await response(scope, receive, send)
                return
            client = who
        if self.buckets is not None:
            wait = self.buckets.take(client)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = error_response(
                    429, "rate_limited", None,
                    f"over the rate limit of {self.buckets.rate:g} requests/s (burst "
                    f"{self.buckets.burst}) for this client; retry in {retry} s",
                    {"Retry-After": str(retry)})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
