"""The client's jax-threefry side: streams as NumPy arrays, and keys made locally."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.jax.keys import SEED_MAX, WORD_MAX
from app.main import create_app
from seed_authority_client import Authority, AuthorityError
from seed_authority_client.jax_keys import threefry2x32
from tests.support import jax_oracle as jo
from tests.support.jax_strategies import SPAWN, bitwise


@pytest.fixture(scope="module")
def local() -> Iterator[Authority]:
    with TestClient(create_app()) as http, Authority(client=http, backoff=0) as authority:
        yield authority


def test_streams_are_numpy_arrays_equal_to_jax(local: Authority) -> None:
    s = local.stream("jax-threefry", "uniform", 7, minval=-3.0, maxval=7.5)
    got = s[100:400]
    assert isinstance(got, np.ndarray)
    ref = jo.reference("uniform", jo.make_key(7, False), 400, "float32",
                       {"minval": -3.0, "maxval": 7.5}, False)
    assert bitwise(got, ref[100:])
    wide = local.stream("jax-threefry", "randint", 2**40, x64=True, dtype="int64",
                        spawn_key=(3, 5), minval=-(2**40), maxval=2**50)
    ref = jo.reference("randint", jo.make_key(2**40, True, spawn_key=(3, 5)), 64, "int64",
                       {"minval": -(2**40), "maxval": 2**50}, True)
    assert bitwise(wide[0:64], ref)
    keyed = local.stream("jax-threefry", "bits", key=(1, 2), dtype="uint8")
    assert bitwise(keyed[0:32], jo.reference("bits", jo.make_key(None, False, (1, 2)), 32,
                                             "uint8", {}, False))
    with pytest.raises(AuthorityError) as err:
        local.stream("jax-threefry", "bits", 1, dtype="uint64")[0:3]
    assert err.value.parameter == "x64"


@pytest.mark.parametrize(("ctr", "key", "out"), [
    ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
    ((WORD_MAX, WORD_MAX), (WORD_MAX, WORD_MAX), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
])
def test_local_threefry_known_answers(ctr: tuple[int, int], key: tuple[int, int],
                                      out: tuple[int, int]) -> None:
    assert threefry2x32(key, ctr) == out


@settings(max_examples=40)
@given(seed=st.integers(0, SEED_MAX), x64=st.booleans(), spawn=SPAWN)
def test_jax_key_is_jaxs_key(local: Authority, seed: int, x64: bool, spawn: list[int]) -> None:
    key = local.jax_key(seed, spawn, x64=x64)
    ref = jo.make_key(seed, x64, spawn_key=spawn)
    assert key.words == jo.key_words(ref)
    assert key.key is not None
    assert jo.key_words(key.key) == key.words


def test_jax_key_of_a_run_and_of_words(local: Authority) -> None:
    local.run("jax-client-run", seed=2**90 + 1)
    key = local.jax_key(run="jax-client-run", spawn_key=4)
    served = local.stream("jax-threefry", "bits", run="jax-client-run", spawn_key=4)[0:8]
    assert bitwise(served, local.stream("jax-threefry", "bits", key=key.words)[0:8])
    assert local.jax_key(words=(1, 2), spawn_key=(3,)).words == jo.key_words(
        jo.make_key(None, False, (1, 2), (3,)))
    with pytest.raises(ValueError, match="exactly one"):
        local.jax_key(7, run="jax-client-run")
