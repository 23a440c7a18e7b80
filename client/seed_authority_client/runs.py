"""Named runs on the client side: ``Authority.run(name)`` and the handle it returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from seed_authority_client.authority import Authority, Stream


class Run:
    """A named run: its seed lives on the authority; every method asks by name."""

    def __init__(self, authority: Authority, doc: dict[str, Any]) -> None:
        self.authority, self.doc = authority, doc
        self.name: str = doc["name"]
        self.seed: int = doc["seed"]
        self.versions: dict[str, str] = doc["versions"]

    def __repr__(self) -> str:
        return f"Run({self.name!r}, seed={self.seed})"

    def seeds(self, rank: int | tuple[int, ...] | None = None) -> dict[str, Any]:
        """This rank's seeds and recipe (GET /v1/seeds?run=)."""
        return self.authority.seeds(rank=rank, run=self.name)

    def seed_everything(self, rank: int | tuple[int, ...] | None = None, *,
                        deterministic: bool = True) -> dict[str, Any]:
        return self.authority.seed_everything(rank=rank, run=self.name,
                                               deterministic=deterministic)

    def stream(self, engine: str, distribution: str, *, dtype: str | None = None,
               spawn_key: int | tuple[int, ...] | None = None, **params: float | int) -> Stream:
        return self.authority.stream(engine, distribution, None, run=self.name, dtype=dtype,
                                     spawn_key=spawn_key, **params)

    def generator(self, engine: str, offset: int = 0, *, distribution: str = "uniform",
                  dtype: str | None = None, spawn_key: int | tuple[int, ...] | None = None,
                  **params: float | int) -> Any:
        return self.authority.generator(engine, None, offset, run=self.name,
                                        distribution=distribution, dtype=dtype,
                                        spawn_key=spawn_key, **params)

    def cursor(self, name: str, engine: str, distribution: str, *, dtype: str | None = None,
               spawn_key: int | tuple[int, ...] | None = None,
               **params: float | int) -> Cursor:
        """The run's shared cursor ``name`` on that stream, created at 0 on first use."""
        key = None if spawn_key is None else (
            [spawn_key] if isinstance(spawn_key, int) else list(spawn_key))
        body = {"engine": engine, "distribution": distribution, "dtype": dtype,
                "params": params, "spawn_key": key}
        doc = self.authority.request("PUT", f"/v1/runs/{self.name}/cursors/{name}",
                                     json={k: v for k, v in body.items() if v is not None}
                                     ).json()
        return Cursor(self, doc)


class Cursor:
    """A shared position in one of the run's streams."""

    def __init__(self, run: Run, doc: dict[str, Any]) -> None:
        self.run, self.doc, self.name = run, doc, doc["name"]
        self.path = f"/v1/runs/{run.name}/cursors/{self.name}"
        self.stream = run.stream(doc["engine"], doc["distribution"], dtype=doc["dtype"],
                                 spawn_key=tuple(doc["spawn_key"]) or None, **doc["params"])

    def claim(self, count: int, worker: str = "") -> Claim:
        """Reserve the next ``count`` elements. Retried with one idempotency key: a retry
        never reserves a second range."""
        doc = self.run.authority.request("POST", f"{self.path}/claims", json={
            "count": count, "worker": worker, "key": uuid.uuid4().hex}).json()
        return Claim.of(self, doc)

    def get(self, claim_id: int) -> Claim:
        """A claim made earlier (by this or another process), by id."""
        return Claim.of(self, self.run.authority.request(
            "GET", f"{self.path}/claims/{claim_id}").json())

    def claims(self) -> list[Claim]:
        out: list[Claim] = []
        start: int | None = 0
        while start is not None:
            page = self.run.authority.request("GET", f"{self.path}/claims",
                                              params={"start": start, "limit": 1000}).json()
            out += [Claim.of(self, d) for d in page["claims"]]
            start = page["next_page"]
        return out

    def position(self) -> int:
        pos: int = self.run.authority.request("GET", self.path).json()["position"]
        return pos


@dataclass(frozen=True)
class Claim:
    cursor: Cursor
    id: int
    offset: int
    count: int
    worker: str
    url: str

    @property
    def next_offset(self) -> int:
        return self.offset + self.count

    @staticmethod
    def of(cursor: Cursor, doc: dict[str, Any]) -> Claim:
        return Claim(cursor, doc["id"], doc["offset"], doc["count"], doc["worker"], doc["url"])

    def values(self) -> npt.NDArray[np.generic]:
        """The claimed elements [offset, offset + count) of the cursor's stream."""
        return self.cursor.stream.fetch(self.offset, self.count)
