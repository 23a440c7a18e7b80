"""``Authority``: one object for streams, generator handoff, inits and worker seeds."""

from __future__ import annotations

import base64
import functools
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import numpy.typing as npt

from seed_authority_client.jax_keys import JaxKey, jax_key
from seed_authority_client.orders import IndexOrder

if TYPE_CHECKING:
    from seed_authority_client.runs import Run

Values = npt.NDArray[np.generic]
"""A slice's elements, in the dtype's storage (bfloat16 as uint16 bit patterns)."""
_ETAG = re.compile(r'^"[^"]+"$')
RETRIED = {429, 500, 502, 503, 504}
Param = bool | float | int | str | tuple[int, ...]
"""A distribution parameter: a number, a boolean, or a tuple of integers (``key=(hi, lo)``)."""


Into = memoryview | Callable[[httpx.Headers], memoryview]
"""Where a body is read to: a buffer, or what makes one from the response headers."""
STREAM_INTO = 1 << 16
"""Slices of more elements than this are read into an array of their own as they arrive."""


class AuthorityError(Exception):
    """The server refused the request (4xx, or 501 for what it cannot serve): ``parameter``
    names what was wrong."""

    def __init__(self, status: int, error: str, parameter: str | None, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.parameter, self.message = status, error, parameter, message


class AuthorityUnavailable(Exception):
    """No valid answer after every retry (connection errors, 5xx, truncated bodies)."""


class Authority:
    """A Seed Authority server. ``client`` may be any httpx.Client (e.g. an in-process one).

    Failed attempts (connection errors, 429, 5xx, truncated bodies) are retried up to
    ``retries`` times within ``retry_budget`` seconds from the first attempt, sleeping a
    jittered exponential backoff (``backoff`` doubling up to ``max_backoff``) or the server's
    ``Retry-After`` when it is longer. The defaults ride out a ~20 s restart of the service.
    ``api_key`` (default: ``SEED_AUTHORITY_API_KEY`` from the environment) is sent as
    ``Authorization: Bearer <key>``."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, timeout: float = 30.0,
                 retries: int = 12, backoff: float = 0.25, max_backoff: float = 4.0,
                 retry_budget: float = 30.0, api_key: str | None = None,
                 chunk: int = 1_000_000, client: httpx.Client | None = None) -> None:
        self._http = client or httpx.Client(base_url=url, timeout=timeout)
        self.retries, self.backoff, self.chunk = retries, backoff, chunk
        self.max_backoff, self.retry_budget = max_backoff, retry_budget
        key = api_key if api_key is not None else os.environ.get("SEED_AUTHORITY_API_KEY")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        # its own generator: jitter must not consume the caller's global random stream
        self._jitter = random.Random()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Authority:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, into: Into | None = None) -> httpx.Response:
        """Send with retries on connection errors, 429, 5xx and truncated or unsigned
        bodies. With ``into`` (a buffer, or a function of the response headers that returns
        one), a 2xx body of exactly the buffer's length is read straight into it, piece by
        piece as it arrives (the response's ``content`` is then not read)."""
        last: str = "no attempt"
        deadline = time.monotonic() + self.retry_budget
        wait = 0.0
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                pause = max(wait, self._backoff(attempt))
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
            attempts += 1
            wait = 0.0
            try:
                if into is None:
                    resp = self._http.request(method, path, params=params, json=json,
                                              headers=self._headers)
                    problem = None
                else:
                    resp, problem = self._read_into(method, path, params, into)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code in RETRIED:
                last = f"HTTP {resp.status_code}"
                wait = _retry_after(resp)
                continue
            if resp.status_code >= 400:  # incl. 501: this server cannot, retrying won't help
                raise _error(resp)
            problem = problem or _check(resp, body=into is None)
            if problem is None:
                return resp
            last = problem
        raise AuthorityUnavailable(f"{method} {path}: {last} after {attempts} attempts")

    def _read_into(self, method: str, path: str, params: Mapping[str, Any] | None,
                   target: Into) -> tuple[httpx.Response, str | None]:
        """One attempt whose 2xx body is copied into the buffer as it arrives."""
        with self._http.stream(method, path, params=params, headers=self._headers) as resp:
            if resp.status_code >= 300:
                resp.read()
                return resp, None
            into = target if isinstance(target, memoryview) else target(resp.headers)
            length = resp.headers.get("content-length")
            if length is not None and int(length) != len(into):
                return resp, f"Content-Length {length} for a buffer of {len(into)} bytes"
            filled = 0
            for piece in resp.iter_raw():
                end = filled + len(piece)
                if end > len(into):
                    return resp, f"a body longer than {len(into)} bytes"
                into[filled:end] = piece
                filled = end
            if filled != len(into):
                return resp, f"body of {filled} bytes, expected {len(into)}"
            return resp, None

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential step fixed, half random."""
        step: float = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return step / 2 + self._jitter.uniform(0, step / 2)

    # -- streams ---------------------------------------------------------------------------

    def run(self, name: str, *, seed: int | None = None, note: str | None = None) -> Run:
        """The named run, created on first use (PUT /v1/runs/{name}: idempotent)."""
        from seed_authority_client.runs import Run

        body = {k: v for k, v in {"seed": seed, "note": note}.items() if v is not None}
        return Run(self, self.request("PUT", f"/v1/runs/{name}", json=body).json())

    def stream(self, engine: str, distribution: str, seed: int | None = None, *,
               run: str | None = None, dtype: str | None = None,
               spawn_key: int | tuple[int, ...] | None = None, **params: Param) -> Stream:
        """A remote stream, by ``seed``, by a named ``run``'s seed, or by a parameter that
        names it (jax-threefry's ``key=(hi, lo)``). Booleans are sent as true/false, tuples
        as comma-separated integers: ``stream("jax-threefry", "uniform", 7, x64=True,
        minval=-1.0, maxval=1.0)``."""
        return Stream(self, engine, distribution, seed, dtype, spawn_key, params, run)

    def jax_key(self, seed: int | None = None, spawn_key: int | Sequence[int] = (), *,
                run: str | None = None, x64: bool = False,
                words: tuple[int, int] | None = None) -> JaxKey:
        """The key of a jax-threefry stream: ``jax.random.key(seed)`` (under ``x64``), or the
        explicit ``words``, or a named ``run``'s jax-threefry seed (asked of the server),
        folded with each ``spawn_key`` entry. ``.words`` are the key words; ``.key`` is the
        ``jax.random`` key when JAX is importable (else None). Computed locally."""
        if run is not None:
            if seed is not None or words is not None:
                raise ValueError("give seed=, words= or run=, exactly one")
            seeds = self.request("GET", "/v1/seeds", params={"run": run}).json()["seeds"]
            seed = int(seeds["jax-threefry"])
        keys = (spawn_key,) if isinstance(spawn_key, int) else tuple(spawn_key)
        return jax_key(seed, keys, x64=x64, words=words)

    def state(self, engine: str, seed: int | None = None, offset: int = 0, *,
              run: str | None = None, distribution: str = "uniform", dtype: str | None = None,
              spawn_key: int | tuple[int, ...] | None = None,
              **params: float | int) -> dict[str, Any]:
        """The server's state handoff document (GET /v1/states)."""
        query = _query(seed, dtype, spawn_key, params, run) | {"offset": offset}
        body: dict[str, Any] = self.request("GET", f"/v1/states/{engine}/{distribution}",
                                            params=query).json()
        return body

    def generator(self, engine: str, seed: int | None = None, offset: int = 0, *,
                  run: str | None = None, distribution: str = "uniform",
                  dtype: str | None = None, spawn_key: int | tuple[int, ...] | None = None,
                  **params: float | int) -> Any:
        """A ready local generator (np.random.RandomState, np.random.Generator,
        random.Random or torch.Generator) that continues the stream at ``offset``."""
        doc = self.state(engine, seed, offset, run=run, distribution=distribution, dtype=dtype,
                         spawn_key=spawn_key, **params)
        if doc["skip"]:
            raise ValueError(f"offset {offset} is inside a 16-element block of torch normal; "
                             f"use a multiple of 16 (block starts at {doc['block_start']}), or "
                             "state() and drop the first `skip` values")
        return restore(doc["state_kind"], doc["state"])

    # -- index orders ----------------------------------------------------------------------

    def permutation(self, engine: str, n: int, seed: int, *,
                    spawn_key: int | tuple[int, ...] | None = None) -> IndexOrder:
        """The engine's permutation of range(n) (torch.randperm, RandomState/Generator
        .permutation, random.shuffle), lazily: ``a.permutation("torch-cpu", n, 7)[a:b]``."""
        query = _query(seed, None, spawn_key, {}) | {"n": n}
        return IndexOrder(self, f"/v1/permutations/{engine}", query)

    def distributed_order(self, n: int, rank: int, num_replicas: int, seed: int = 0,
                          epoch: int = 0, *, shuffle: bool = True,
                          drop_last: bool = False) -> IndexOrder:
        """A rank's DistributedSampler shard of an epoch, lazily (``len`` = num_samples)."""
        return IndexOrder(self, "/v1/samplers/distributed", {
            "n": n, "num_replicas": num_replicas, "rank": rank, "seed": seed, "epoch": epoch,
            "shuffle": str(shuffle).lower(), "drop_last": str(drop_last).lower()})

    def distributed_indices(self, n: int, rank: int, num_replicas: int, seed: int = 0,
                            epoch: int = 0, *, shuffle: bool = True,
                            drop_last: bool = False) -> npt.NDArray[np.int64]:
        """``list(DistributedSampler(range(n), num_replicas, rank, shuffle, seed, drop_last))``
        after ``set_epoch(epoch)``, as an int64 array."""
        order = self.distributed_order(n, rank, num_replicas, seed, epoch, shuffle=shuffle,
                                       drop_last=drop_last)
        return order.fetch(0, len(order))

    def dataloader_epoch(self, n: int, seed: int, epoch: int = 0, *, num_workers: int = 0,
                         persistent_workers: bool = False) -> IndexOrder:
        """A seeded DataLoader(shuffle=True) epoch's order; ``.meta`` holds ``base_seed`` and
        each worker's torch, random and NumPy seeds."""
        return IndexOrder(self, "/v1/samplers/dataloader", {
            "n": n, "seed": seed, "epoch": epoch, "num_workers": num_workers,
            "persistent_workers": str(persistent_workers).lower()})

    # -- inits -----------------------------------------------------------------------------

    def init_tensor(self, seed: int, init: str, shape: list[int], dtype: str = "float32",
                    **args: Any) -> Any:
        """``torch.nn.init.<init>`` on ``torch.empty(shape, dtype)`` with a seeded generator."""
        from safetensors.torch import load

        resp = self.request("POST", "/v1/tensors/init", params={"format": "safetensors"},
                            json={"seed": seed, "init": init, "shape": shape, "dtype": dtype,
                                  "args": args})
        return load(resp.content)["tensor"]

    def init_module(self, seed: int, modules: list[dict[str, Any]],
                    dtype: str = "float32") -> dict[str, Any]:
        """The state_dict of nn.Sequential(*modules) built after torch.manual_seed(seed)."""
        from safetensors.torch import load

        resp = self.request("POST", "/v1/modules/init", params={"format": "safetensors"},
                            json={"seed": seed, "modules": modules, "dtype": dtype})
        return dict(load(resp.content))

    # -- worker seeds ----------------------------------------------------------------------

    def seeds(self, seed: int | None = None, rank: int | tuple[int, ...] | None = None, *,
              run: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.request("GET", "/v1/seeds", params=_query(
            seed, None, rank, {}, run)).json()
        return body

    def seed_everything(self, seed: int | None = None,
                        rank: int | tuple[int, ...] | None = None, *, run: str | None = None,
                        deterministic: bool = True) -> dict[str, Any]:
        """Seed random, numpy and torch in this process with this worker's seeds, and (with
        ``deterministic``) set torch's determinism switches; see GET /v1/seeds."""
        doc = self.seeds(seed, rank, run=run)
        roles = doc["framework_seeds"]  # the seed of each process-wide seeding call
        random.seed(roles["python"])
        np.random.seed(roles["numpy"])
        os.environ["PYTHONHASHSEED"] = str(roles["numpy"])
        try:
            import torch
        except ImportError:
            return doc
        torch.manual_seed(roles["torch"])
        torch.cuda.manual_seed_all(roles["torch"])
        if deterministic:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True)
        return doc


class Stream:
    """A remote infinite sequence: index or slice it, or iterate over it in chunks."""

    def __init__(self, authority: Authority, engine: str, distribution: str, seed: int | None,
                 dtype: str | None, spawn_key: int | tuple[int, ...] | None,
                 params: Mapping[str, Param], run: str | None = None) -> None:
        self.authority, self.path = authority, f"/v1/streams/{engine}/{distribution}"
        self.query = _query(seed, dtype, spawn_key, params, run)

    def fetch(self, offset: int, count: int) -> Values:
        """Elements [offset, offset + count), in slices of at most ``chunk``; a count over
        one slice is read into one preallocated array, each response straight into its
        part."""
        chunk = self.authority.chunk
        first = self._one(offset, min(chunk, count))
        if count <= chunk:
            return first
        out = np.empty(count, dtype=first.dtype)
        out[:len(first)] = first
        del first
        for start in range(offset + chunk, offset + count, chunk):
            n = min(chunk, offset + count - start)
            self._one(start, n, out[start - offset:start - offset + n])
        return out

    def _one(self, offset: int, count: int,
             out: Values | None = None) -> Values:
        """One request; a large body goes straight into ``out`` (or an array made for it
        once the headers say its dtype), a small one is viewed where it was received."""
        query = {**self.query, "offset": offset, "count": count, "format": "raw"}
        made: list[Values] = []

        def allocate(headers: httpx.Headers) -> memoryview:
            made[:] = [np.empty(count, dtype=_dtype(headers.get("x-dtype", "uint8")))]
            return made[0].data.cast("B")

        into: Into | None = (out.data.cast("B") if out is not None
                             else allocate if count > STREAM_INTO else None)
        resp = self.authority.request("GET", self.path, params=query, into=into)
        headers = resp.headers
        if (headers["x-offset"], headers["x-count"]) != (str(offset), str(count)):
            raise AuthorityUnavailable("the server answered another slice")
        dtype = _dtype(headers["x-dtype"])
        if into is None:
            if len(resp.content) != count * dtype.itemsize:
                raise AuthorityUnavailable(f"{len(resp.content)} bytes for {count} x {dtype}")
            return np.frombuffer(resp.content, dtype=dtype)
        got = out if out is not None else made[0]
        if got.dtype != dtype:
            raise AuthorityUnavailable(f"the server answered {dtype}, not {got.dtype}")
        return got

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, int):
            if key < 0:
                raise IndexError("a stream is infinite: no negative indices")
            return self.fetch(key, 1)[0]
        start, stop, step = key.start or 0, key.stop, key.step or 1
        if stop is None or start < 0 or stop < 0 or step < 1:
            raise IndexError("slice a stream with 0 <= start <= stop and a positive step")
        return self.fetch(start, max(0, stop - start))[::step]

    def __iter__(self) -> Iterator[Values]:
        return self.chunks()

    def chunks(self, start: int = 0, stop: int | None = None,
               size: int | None = None) -> Iterator[Values]:
        """Consecutive chunks from ``start`` (to ``stop``, or forever), the next one fetched
        in the background while the caller works on the current one."""
        size = size or self.authority.chunk

        def span(offset: int) -> int:
            return size if stop is None else min(size, stop - offset)

        with ThreadPoolExecutor(1) as pool:
            offset = start
            pending: Future[Values] | None = (
                pool.submit(self.fetch, offset, span(offset)) if span(offset) > 0 else None)
            while pending is not None:
                current = pending.result()
                offset += len(current)
                pending = (pool.submit(self.fetch, offset, span(offset))
                           if span(offset) > 0 else None)
                yield current


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype[np.generic]:
    """The little-endian NumPy dtype of X-Dtype (bfloat16 as its uint16 bits)."""
    if name == "bfloat16":
        return np.dtype("<u2")
    return np.dtype(name).newbyteorder("<")


def restore(kind: str, state: Any) -> Any:
    """Build the library's own generator from a state handoff document's ``state``, by its
    ``state_kind`` (what the server says the state is, whichever engine made it)."""
    if kind == "numpy.random_state":
        rs = np.random.RandomState()
        rs.set_state((state[0], np.array(state[1], dtype=np.uint32), *state[2:]))
        return rs
    if kind == "numpy.bit_generator":
        cls = getattr(np.random, state["bit_generator"], None)
        if not (isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)):
            raise ValueError(f"unknown numpy bit generator {state['bit_generator']!r}")
        bitgen = cls()
        bitgen.state = state
        return np.random.Generator(bitgen)
    if kind == "python.random":
        r = random.Random()
        r.setstate((state[0], tuple(state[1]), state[2]))
        return r
    if kind == "torch.generator":
        import torch

        g = torch.Generator()
        g.set_state(torch.frombuffer(bytearray(base64.b64decode(state)), dtype=torch.uint8))
        return g
    raise ValueError(f"no way to restore a state of kind {kind!r} (a newer server?)")


def _param(value: Param) -> float | int | str:
    """A parameter as the query writes it: true/false, hi,lo, or the number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(int(v)) for v in value)
    return value


def _query(seed: int | None, dtype: str | None, spawn_key: int | tuple[int, ...] | None,
           params: Mapping[str, Param], run: str | None = None) -> dict[str, Any]:
    if seed is not None and run is not None:
        raise ValueError("give seed= or run=, exactly one")
    if seed is None and run is None and not params:
        raise ValueError("give seed= or run=, exactly one (or a parameter that names the "
                         "stream, such as jax-threefry's key=)")
    query: dict[str, Any] = {} if seed is None and run is None else (
        {"seed": seed} if run is None else {"run": run})
    query |= {k: _param(v) for k, v in params.items()}
    if dtype is not None:
        query["dtype"] = dtype
    if spawn_key is not None:
        keys = (spawn_key,) if isinstance(spawn_key, int) else spawn_key
        query["spawn_key"] = ",".join(str(k) for k in keys)
    return query


def _retry_after(resp: httpx.Response) -> float:
    """The server's Retry-After in seconds (0 when absent or a date)."""
    try:
        return max(0.0, float(resp.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def _error(resp: httpx.Response) -> AuthorityError:
    try:
        body = resp.json()
        return AuthorityError(resp.status_code, body.get("error", "error"),
                              body.get("parameter"), body.get("message", resp.text))
    except ValueError:
        return AuthorityError(resp.status_code, "error", None, resp.text[:500])


def _check(resp: httpx.Response, body: bool = True) -> str | None:
    """Why a 2xx answer is not to be trusted, or None (``body``: check its length too; a
    body read into a buffer was checked as it was read)."""
    length = resp.headers.get("content-length")
    if body and length is not None and int(length) != len(resp.content):
        return f"body of {len(resp.content)} bytes, Content-Length {length}"
    etag = resp.headers.get("etag")
    if etag is not None and not _ETAG.match(etag):
        return f"malformed ETag {etag!r}"
    return None
