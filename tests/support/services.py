"""Stream services that force each path of the core: the exactness properties run under
every one of them (a checkpoint saved one element off, a wrong jump, a parked generator
resumed at the wrong place each fail them under the service that takes that path)."""

from __future__ import annotations

from app.core.streams import Limits, StreamService

PATHS: dict[str, StreamService] = {
    # consecutive slices resume the generator the previous one parked
    "shared": StreamService(Limits(park_after_ms=0)),
    # chunks of a few elements, a checkpoint every few elements, every generator parked,
    # a cache that evicts all the time
    "tiny": StreamService(Limits(chunk_bytes=64, checkpoint_interval_ms=0.0005,
                                 cache_bytes=20_000, park_after_ms=0)),
    # every offset reached by a seek (jump, advance, counter) where the engine can seek
    "always-seek": StreamService(Limits(seek="always", park_after_ms=0)),
    # every offset reached by regenerating from the nearest checkpoint or the seed
    "never-seek": StreamService(Limits(seek="never", checkpoint_interval_ms=0.002)),
}
NAMES = ["fresh", *PATHS]


def path_service(name: str) -> StreamService:
    """The shared service of that name; ``fresh``: a new default one."""
    return StreamService() if name == "fresh" else PATHS[name]
