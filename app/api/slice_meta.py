"""The one place that builds a slice's ETag, headers and JSON metadata.

What a stream's slices share (engine, distribution, seed, spawn key, dtype, parameters,
versions, the run) is printed once per stream into ``SliceHead``; a request fills in its
offset, count, format and reference call. The output is byte for byte what printing the
whole document each time gives (``etag_for`` of the request's canonical form; the metadata
through ``json.dumps``, which prints integers beyond 64 bits exactly).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from json.encoder import encode_basestring_ascii
from typing import Any

from app.api.caching import CACHE_CONTROL, etag_document, etag_for, etag_of, versions_header
from app.api.formats import Format
from app.core.spec import Stream
from app.core.versions import versions

RawHeaders = list[tuple[bytes, bytes]]


def _template(text: str, *marks: str) -> list[str]:
    """``text`` cut at each mark, which must occur once and in this order."""
    parts = []
    for mark in marks:
        if text.count(mark) != 1:
            raise ValueError(f"{mark!r} occurs {text.count(mark)} times in a slice template")
        before, text = text.split(mark)
        parts.append(before)
    return [*parts, text]


_OFFSET, _COUNT, _NEXT, _FORMAT, _REFERENCE, _SEED, _KEY = (
    "@@offset@@", "@@count@@", "@@next_offset@@", "@@format@@", "@@reference@@", "@@seed@@",
    "@@spawn_key@@")


_json_string: Callable[[str], str] = encode_basestring_ascii  # json.dumps of a str, in C


class _Family:
    """What the streams of one engine, distribution, dtype and parameters (and run) share:
    their ETag and metadata printed once, with marks where a stream and a slice differ."""

    def __init__(self, stream: Stream, run: str | None) -> None:
        ident: dict[str, Any] = {
            "engine": stream.engine.name,
            "distribution": stream.dist.name,
            "dtype": stream.dtype.name,
            "params": {k: repr(v) for k, v in stream.params.items()},
            "seed": _SEED,
            "spawn_key": _KEY,
            "offset": _OFFSET,
            "count": _COUNT,
            "format": _FORMAT,
        }
        # caching.etag_document's text, cut where the marks (strings) stand
        self.etag = _template(etag_document(ident), f'"{_COUNT}"', _FORMAT,
                              f'"{_OFFSET}"', f'"{_SEED}"', f'"{_KEY}"')
        meta: dict[str, Any] = {
            "engine": stream.engine.name,
            "distribution": stream.dist.name,
            "seed": _SEED,
            **({"run": run} if run is not None else {}),
            "spawn_key": _KEY,
            "offset": _OFFSET,
            "count": _COUNT,
            "next_offset": _NEXT,
            "dtype": stream.dtype.name,
            "params": dict(stream.params),
            "reference": _REFERENCE,
            "versions": versions(),
        }
        self.meta = [p.encode() for p in _template(
            json.dumps(meta, separators=(",", ":"))[:-1], f'"{_SEED}"', f'"{_KEY}"',
            f'"{_OFFSET}"', f'"{_COUNT}"', f'"{_NEXT}"', f'"{_REFERENCE}"')]
        self.headers: RawHeaders = [
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"vary", b"Accept"),
            (b"x-versions", versions_header().encode("latin-1")),
            (b"x-dtype", stream.dtype.name.encode()),
        ]


_FAMILIES: dict[Hashable, _Family] = {}
_MAX_FAMILIES = 4096


def _family(stream: Stream, run: str | None) -> _Family:
    key = (stream.engine.name, stream.dist.name, stream.dtype.name,
           tuple(stream.params.items()), run)
    family = _FAMILIES.get(key)
    if family is None:
        if len(_FAMILIES) >= _MAX_FAMILIES:
            _FAMILIES.clear()
        family = _FAMILIES[key] = _Family(stream, run)
    return family


class SliceHead:
    """A stream's ETag, metadata and headers, filled in per slice.

    ``run``: the named run the stream's seed derives from; it is named in the metadata and
    its ETag wraps the slice's (as every run-made result's does).
    """

    def __init__(self, stream: Stream, run: str | None = None) -> None:
        self.stream, self.run = stream, run
        family = _family(stream, run)
        e, m = family.etag, family.meta
        # what json.dumps prints for them: integers exactly, None as null
        seed = "null" if stream.seed is None else str(stream.seed)
        keys = [str(k) for k in stream.spawn_key]
        self._etag = (e[0], e[1], e[2], f"{e[3]}{seed}{e[4]}[{', '.join(keys)}]{e[5]}")
        compact = f"[{','.join(keys)}]".encode()
        self._meta = (m[0] + seed.encode() + m[1] + compact + m[2], m[3], m[4], m[5], m[6])
        self._fixed_headers = family.headers

    def etag(self, offset: int, count: int, fmt: Format) -> str:
        """``etag_for`` of the slice's canonical form (and of the run's name)."""
        p = self._etag
        tag = etag_of(f"{p[0]}{count}{p[1]}{fmt.value}{p[2]}{offset}{p[3]}")
        return tag if self.run is None else etag_for({"slice": tag, "run": self.run})

    def headers(self, etag: str, offset: int, count: int,
                extra: dict[str, str] | None = None) -> RawHeaders:
        """ETag, caching, X-Offset/Count/Next-Offset/Dtype and X-Versions, as raw headers."""
        out = [(b"etag", etag.encode()), *self._fixed_headers,
               (b"x-offset", str(offset).encode()), (b"x-count", str(count).encode()),
               (b"x-next-offset", str(offset + count).encode())]
        if extra:
            out += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
        return out

    def json_head(self, offset: int, count: int,
                  local_call: dict[str, Any] | None = None) -> bytes:
        """The JSON body up to and including ``"values":``."""
        p = self._meta
        reference = _json_string(self.stream.reference(offset, offset + count))
        tail = (b"" if local_call is None else
                b',"local_call":' + json.dumps(local_call, separators=(",", ":")).encode())
        return b"".join((p[0], str(offset).encode(), p[1], str(count).encode(), p[2],
                         str(offset + count).encode(), p[3], reference.encode(), p[4], tail,
                         b',"values":'))


class HeadCache:
    """Resolved streams and their heads, by the request fields that name them; least
    recently used first out. Thread-safe.

    A head is kept from its stream's second request on: streams asked for once (a random
    seed per request) would push out the heads in use and leave objects for the cycle
    collector to trace. The first request only notes the key's hash (a dict of integers,
    which the collector does not track)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._heads: OrderedDict[Hashable, SliceHead] = OrderedDict()
        self._seen: dict[int, None] = {}

    def get(self, key: Hashable) -> SliceHead | None:
        with self._lock:
            head = self._heads.get(key)
            if head is not None:
                self._heads.move_to_end(key)
            return head

    def put(self, key: Hashable, head: SliceHead) -> None:
        tag = hash(key)
        with self._lock:
            if tag not in self._seen:
                if len(self._seen) >= self.size:
                    self._seen.clear()
                self._seen[tag] = None
                return
            self._heads[key] = head
            while len(self._heads) > self.size:
                self._heads.popitem(last=False)
