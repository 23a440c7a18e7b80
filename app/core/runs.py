"""Named runs: a stored 128-bit seed that every rank asks for by name.

Pure logic, no database and no HTTP: run names, fresh seeds, the library versions a run
records, the version-drift check, and how an engine's seed derives from a run's seed.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from app.core.errors import AuthorityError, InvalidParameter, UnknownName
from app.core.spec import Engine, Number, derive_seed
from app.core.streams import CPU_ONLY, Runtime, Stream, parse_spawn_key, resolve
from app.core.versions import versions

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = ("1 to 64 characters: letters, digits, '.', '_' and '-', starting with a letter "
             "or a digit")
SEED_BITS = 128
VERSION_KEYS = ("numpy", "torch", "python", "torch_cpu_capability")
"""What a run records of the process that created it: the bits of a stream depend on them."""
MAX_NOTE = 1000
MAX_CURSOR_POSITION = 2**63 - 1
"""Cursor positions are stored as signed 64-bit integers."""


class Conflict(AuthorityError):
    """The request contradicts what is stored (another seed or spec for an existing name)."""

    status = 409
    code = "conflict"


class VersionDrift(AuthorityError):
    """The run was created under other library versions: its bits may differ here."""

    status = 409
    code = "version_drift"


class DatabaseUnavailable(AuthorityError):
    """The database cannot be reached now: retry after ``retry_after`` seconds."""

    status = 503
    code = "unavailable"
    retry_after = 2


def check_name(parameter: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidParameter(parameter, f"{name[:80]!r} is not a valid name: {NAME_RULE}")
    return name


def fresh_seed() -> int:
    """A 128-bit seed from the operating system's entropy (``secrets`` reads os.urandom)."""
    return secrets.randbits(SEED_BITS)


def check_seed(seed: int) -> int:
    if not 0 <= seed < 2**SEED_BITS:
        raise InvalidParameter("seed", f"must be in 0..2**{SEED_BITS}-1, got {seed}")
    return seed


def current_versions() -> dict[str, str]:
    here = versions()
    return {k: here[k] for k in VERSION_KEYS}


@dataclass(frozen=True)
class Run:
    name: str
    seed: int
    seed_source: str
    """``entropy`` (drawn from the OS by the authority) or ``given`` (in the creating request)."""
    created_at: datetime
    versions: Mapping[str, str]
    note: str | None = None

    def drift(self, here: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """Library versions that differ: {name: (the run's, this process's)}."""
        here = here or current_versions()
        return {k: (str(self.versions.get(k)), here[k]) for k in VERSION_KEYS
                if str(self.versions.get(k)) != here[k]}

    def check_versions(self, allow_drift: bool) -> None:
        diff = self.drift()
        if diff and not allow_drift:
            text = ", ".join(f"{k} {ours} (run) vs {here} (this server)"
                             for k, (ours, here) in diff.items())
            raise VersionDrift("run", f"run {self.name!r} was created under other library "
                                      f"versions ({text}): its bits may differ here; pass "
                                      "allow_version_drift=true to serve it anyway")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "seed_source": self.seed_source,
                "created_at": self.created_at.isoformat(), "note": self.note,
                "versions": dict(self.versions)}


@dataclass(frozen=True)
class CursorSpec:
    """A stream a cursor walks along: everything but the seed, which the run gives."""

    engine: str
    distribution: str
    dtype: str
    params: Mapping[str, Number] = field(default_factory=dict)
    spawn_key: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "distribution": self.distribution, "dtype": self.dtype,
                "params": dict(self.params), "spawn_key": list(self.spawn_key)}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CursorSpec:
        return CursorSpec(d["engine"], d["distribution"], d["dtype"], dict(d["params"]),
                          tuple(int(k) for k in d["spawn_key"]))


@dataclass(frozen=True)
class Cursor:
    run: str
    name: str
    spec: CursorSpec
    position: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run, "name": self.name, **self.spec.as_dict(),
                "position": self.position, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Claim:
    id: int
    run: str
    cursor: str
    offset: int
    count: int
    worker: str
    created_at: datetime

    @property
    def next_offset(self) -> int:
        return self.offset + self.count

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run, "cursor": self.cursor, "offset": self.offset,
                "count": self.count, "next_offset": self.next_offset, "worker": self.worker,
                "created_at": self.created_at.isoformat()}


def engine_seed(engine: Engine, run_seed: int,
                spawn_key: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """The (seed, spawn_key) of a stream request that a run's seed stands for.

    Derived the way ``/v1/seeds`` derives worker seeds, also with an empty spawn key:
    numpy Generator engines take ``SeedSequence(run_seed, spawn_key=...)`` (the same as
    seed=run_seed with that spawn key); engines with narrower seeds take
    ``SeedSequence(run_seed, spawn_key=...).generate_state(1, uint32 or uint64)[0]``;
    engines with their own ``spawn_rule`` take ``SeedSequence(run_seed)``'s seed and apply
    the spawn key themselves.
    """
    if engine.seed_bits is None or (spawn_key and engine.spawn_rule is None):
        return run_seed, spawn_key
    derived = derive_seed(np.random.SeedSequence(run_seed), engine.seed_bits)
    # an engine with its own spawn rule (jax-threefry's fold_in) applies the key itself
    return derived, spawn_key if engine.spawn_rule is not None else ()


def run_stream(run_seed: int, engine: str, distribution: str, dtype: str | None = None,
               params: Mapping[str, str | Number] | None = None,
               spawn_key: str | tuple[int, ...] | None = None,
               device: str | None = None, *, runtime: Runtime = CPU_ONLY) -> Stream:
    """The stream a run's seed stands for: validated like any stream (the seed checks
    aside: the engine's seed is derived, in range by construction), made on ``runtime``."""
    stream = resolve(engine, distribution, 0, dtype, params, None, device, runtime=runtime)
    seed, key = engine_seed(stream.engine, run_seed, parse_spawn_key(spawn_key))
    return dataclasses.replace(stream, seed=seed, spawn_key=key)


def not_found(name: str) -> UnknownName:
    return UnknownName("run", f"no run named {name!r}; create it with PUT /v1/runs/{name}")
