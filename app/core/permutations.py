"""Permutations of ``range(n)`` exactly as the libraries make them, built once and sliced.

For an engine, ``n``, a seed (and a spawn key) there is one permutation: the array the
engine's reference call returns (``torch.randperm(n, generator=g)``,
``np.random.RandomState(seed).permutation(n)``, ``Generator(BitGen(seed)).permutation(n)``,
``random.Random(seed).shuffle(list(range(n)))``). It is made by that very call, once, held
in a memory-budgeted LRU cache (:mod:`app.core.index_cache`) as ``int32`` where ``n``
allows, and sliced. A permutation is one fixed-length object, neither prefix- nor
split-stable, so it cannot be streamed: the whole of it is built before the first element
is known.

How many bit-generator words each library draws, read in its sources (tests check every
claim against the library itself):

- torch (``aten/src/ATen/native/TensorFactories.cpp``, ``randperm_cpu``): for
  ``n < 2**32 // 20 = 214,748,364`` a Fisher-Yates shuffle with ``random() % (n - i)``,
  one 32-bit word per swap, ``n - 1`` words; from that size on the "inside-out" variant
  with ``random64() % (i + 1)``, two words for each of the ``n`` elements, ``2n`` words,
  and a different permutation for the same words.
- numpy (``RandomState.shuffle`` / ``Generator.shuffle`` -> ``random_interval``): for
  ``i`` from ``n - 1`` down to 1, masked rejection of ``next_uint32 & mask`` until
  ``<= i`` (``next_uint64`` when ``i > 2**32 - 1``, beyond this service's limits): a
  variable number of words, about 1.4 per element.
- Python (``random.shuffle``): ``_randbelow(i + 1)`` = ``getrandbits(k)`` with rejection,
  a variable number of 32-bit words; pure Python, ~1 us per element.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from app.core.errors import InvalidParameter, LimitExceeded, UnknownName
from app.core.index_cache import IndexCache
from app.core.registry import get_engine
from app.core.spec import Array, GeneratorEngine

TORCH_INSIDE_OUT_FROM = (2**32 - 1) // 20
"""torch.randperm switches to 64-bit draws (and another algorithm) at this n (214748364)."""
INT32_MAX_N = 2**31
"""Every value of a permutation of range(n) fits int32 while n <= 2**31."""


def torch_randperm_words(n: int) -> int:
    """32-bit words of the CPU mt19937 that ``torch.randperm(n, generator=g)`` consumes."""
    if n < TORCH_INSIDE_OUT_FROM:
        return max(n - 1, 0)
    return 2 * n


def storage_dtype(n: int) -> np.dtype[Any]:
    return np.dtype("<i4") if n <= INT32_MAX_N else np.dtype("<i8")


def _torch(g: torch.Generator, n: int, storage: np.dtype[Any]) -> Array:
    dtype = torch.int32 if storage.itemsize == 4 else torch.int64
    return torch.randperm(n, generator=g, dtype=dtype).numpy()


def _numpy(gen: np.random.RandomState | np.random.Generator, n: int,
           storage: np.dtype[Any]) -> Array:
    # permutation(n) is arange(n) (int64) then shuffle: the swaps depend only on n, so
    # shuffling an int32 arange gives the same order in half the memory.
    arr = np.arange(n, dtype=storage)
    gen.shuffle(arr)
    return arr


def _python(r: random.Random, n: int, storage: np.dtype[Any]) -> Array:
    x = list(range(n))
    r.shuffle(x)
    return np.array(x, dtype=storage)


@dataclass(frozen=True)
class Method:
    """How one engine permutes: the library call, its cost and what it draws."""

    call: str
    """The reference call, as Python; ``{n}`` is replaced."""
    permute: Callable[[Any, int, np.dtype[Any]], Array]
    cost_ns: Callable[[int], float]
    """Estimated build time per element (prices a request against max_build_ms)."""
    build_bytes_per_element: int
    """Peak memory of a build per element, beyond the result (Python's list of ints)."""
    draws: str
    """The words it draws, for people (/v1/permutations, the README)."""


_NUMPY_DRAWS = ("masked rejection per swap (random_interval): a variable number of 32-bit "
                "words, ~1.4 per element (64-bit draws only for n > 2**32, over the limit)")
TORCH = Method(
    call="torch.randperm({n}, generator=g)",
    permute=_torch,
    cost_ns=lambda n: 15.0 if n < TORCH_INSIDE_OUT_FROM else 40.0,
    build_bytes_per_element=0,
    draws="n - 1 32-bit words (random() % (n - i)) for n < 214748364; from there 2n words "
          "(random64() % (i + 1), the inside-out shuffle: another order)",
)
LEGACY = Method(call="rs.permutation({n})", permute=_numpy, cost_ns=lambda n: 25.0,
                build_bytes_per_element=0, draws=_NUMPY_DRAWS)
GENERATOR = Method(call="rng.permutation({n})", permute=_numpy, cost_ns=lambda n: 25.0,
                   build_bytes_per_element=0, draws=_NUMPY_DRAWS)
PYTHON = Method(call="x = list(range({n}))\nr.shuffle(x)", permute=_python,
                cost_ns=lambda n: 1_200.0, build_bytes_per_element=40,
                draws="getrandbits(k) with rejection per swap (k = bits of i + 1): a variable "
                      "number of 32-bit words; pure Python")
METHODS: dict[str, Method] = {
    "torch-cpu": TORCH,
    "numpy-legacy": LEGACY,
    **dict.fromkeys(("numpy-pcg64", "numpy-pcg64dxsm", "numpy-philox", "numpy-sfc64",
                     "numpy-mt19937"), GENERATOR),
    "python-random": PYTHON,
}
"""The engines that permute (torch-cuda's randperm is another algorithm: not offered)."""


@dataclass(frozen=True)
class PermutationLimits:
    max_n: int = 10**9
    """Largest n served."""
    cache_bytes: int = 1 << 30
    """Memory budget of the permutations held (and being built) at once."""
    max_build_ms: float = 30_000.0
    """Most estimated time one permutation may take to build."""


@dataclass(frozen=True)
class Permutation:
    """One validated permutation request (engine, n, seed, spawn key)."""

    engine: GeneratorEngine[Any, Any]
    method: Method
    n: int
    seed: int
    spawn_key: tuple[int, ...] = ()
    key: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", ("permutation", self.engine.name, self.n, self.seed,
                                         self.spawn_key))

    @property
    def storage(self) -> np.dtype[Any]:
        return storage_dtype(self.n)

    def build(self) -> Array:
        gen = self.engine.new(self.engine.generator_seed(self.seed, self.spawn_key))
        return self.method.permute(gen, self.n, self.storage)

    def reference(self, start: int, stop: int) -> str:
        call = self.method.call.format(n=self.n)
        out = f"{call}\n" if "\n" in call else f"x = {call}\n"  # Python's shuffle: x
        if start != 0 or stop != self.n:
            out += f"x = x[{start}:{stop}]\n"
        return self.engine.preamble(self.seed, self.spawn_key) + out


def method_of(engine: str) -> tuple[GeneratorEngine[Any, Any], Method]:
    method = METHODS.get(engine)
    if method is None:
        raise UnknownName("engine", f"no permutations for {engine!r}; known: "
                                    f"{', '.join(METHODS)}")
    eng = get_engine(engine)
    if not isinstance(eng, GeneratorEngine):  # every engine that permutes is one
        raise UnknownName("engine", f"{engine} has no library generator to permute with")
    return eng, method


def check_n(n: int, method: Method, limits: PermutationLimits, what: str = "n") -> int:
    """Bytes a permutation of this size holds while built; refuse sizes over a limit."""
    if n < 0:
        raise InvalidParameter(what, f"must be >= 0, got {n}")
    if n > limits.max_n:
        raise LimitExceeded(what, f"{n} is over the limit of {limits.max_n} "
                                  "(SEED_AUTHORITY_MAX_PERMUTATION_N)")
    need = build_bytes(n, method)
    if need > limits.cache_bytes:
        raise LimitExceeded(what, f"a permutation of {n} needs {need} bytes to build, over the "
                                  f"permutation memory budget of {limits.cache_bytes} bytes "
                                  "(SEED_AUTHORITY_PERMUTATION_CACHE_BYTES)")
    ms = n * method.cost_ns(n) / 1e6
    if ms > limits.max_build_ms:
        raise LimitExceeded(what, f"a permutation of {n} takes about {ms:.0f} ms to build, over "
                                  f"the limit of {limits.max_build_ms:.0f} ms "
                                  "(SEED_AUTHORITY_MAX_PERMUTATION_BUILD_MS)")
    return need


def build_bytes(n: int, method: Method) -> int:
    return n * (storage_dtype(n).itemsize + method.build_bytes_per_element)


def resolve_permutation(engine: str, n: int, seed: int, spawn_key: tuple[int, ...] = (),
                        limits: PermutationLimits | None = None) -> Permutation:
    eng, method = method_of(engine)
    if not 0 <= seed <= eng.seed_max:
        raise InvalidParameter("seed", f"must be in 0..{eng.seed_max} for {eng.name}, got {seed}")
    check_n(n, method, limits or PermutationLimits())
    return Permutation(eng, method, n, seed, spawn_key)


def check_window(n: int, offset: int, count: int, max_count: int) -> None:
    """[offset, offset + count) must lie in [0, n) (an index order is finite)."""
    if offset < 0:
        raise InvalidParameter("offset", f"must be >= 0, got {offset}")
    if count < 0:
        raise InvalidParameter("count", f"must be >= 0, got {count}")
    if count > max_count:
        raise LimitExceeded("count", f"{count} is over the limit of {max_count} elements per "
                                     "request; fetch it in several slices")
    if offset > n:
        raise InvalidParameter("offset", f"{offset} is past the end ({n} elements)")
    if offset + count > n:
        raise InvalidParameter("count", f"offset + count = {offset + count} is past the end "
                                        f"({n} elements); at most {n - offset} from offset "
                                        f"{offset}")


def chunked(arr: Array, out: np.dtype[Any], chunk_bytes: int) -> Iterator[Array]:
    """``arr`` cast to ``out``, in pieces of about ``chunk_bytes``."""
    step = max(1, chunk_bytes // out.itemsize)
    for start in range(0, len(arr), step):
        yield arr[start:start + step].astype(out, copy=False)


class PermutationService:
    """Builds permutations through the libraries and keeps them in one budgeted cache."""

    def __init__(self, limits: PermutationLimits | None = None, max_count: int = 10_000_000,
                 chunk_bytes: int = 1 << 20) -> None:
        self.limits = limits or PermutationLimits()
        self.max_count = max_count
        self.chunk_bytes = chunk_bytes
        self.cache = IndexCache(self.limits.cache_bytes)

    def array(self, key: tuple[Any, ...], need: int, build: Callable[[], Array]) -> Array:
        """The cached array of ``key``, built by ``build`` (peak ``need`` bytes) if absent."""
        return self.cache.get(key, need, build)

    def full(self, perm: Permutation) -> Array:
        return self.array(perm.key, build_bytes(perm.n, perm.method), perm.build)

    def slice(self, perm: Permutation, offset: int, count: int,
              dtype: str = "int64") -> Iterator[Array]:
        """Elements [offset, offset + count): built (or found) now, cast as iterated."""
        check_window(perm.n, offset, count, self.max_count)
        out = output_dtype(dtype, perm.n)
        arr = self.full(perm)[offset:offset + count]
        return chunked(arr, out, self.chunk_bytes)


def output_dtype(name: str, n: int) -> np.dtype[Any]:
    if name == "int64":
        return np.dtype("<i8")
    if name == "int32":
        if n > INT32_MAX_N:
            raise InvalidParameter("dtype", f"int32 cannot hold the values of a permutation of "
                                            f"{n} (n <= 2**31 can); use int64")
        return np.dtype("<i4")
    raise InvalidParameter("dtype", f"{name!r}: indices are int64 (the libraries' type) or int32")
