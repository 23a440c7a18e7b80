"""The client's index orders and AuthoritySampler, in-process, against torch and numpy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from seed_authority_client import Authority
from seed_authority_client.sampler import AuthoritySampler
from tests.support import shuffle_oracle


@pytest.fixture
def local() -> Iterator[Authority]:
    with TestClient(create_app()) as http, Authority(client=http, backoff=0,
                                                     chunk=37) as authority:
        yield authority


def test_permutation_slicing(local: Authority) -> None:
    expected = shuffle_oracle.permutation("numpy-pcg64", 500, 7)
    perm = local.permutation("numpy-pcg64", 500, 7)
    assert len(perm) == 500
    assert perm[100:400].tolist() == expected[100:400].tolist()  # several chunks of 37
    assert perm[-1] == int(expected[-1])
    assert perm[::7].tolist() == expected[::7].tolist()
    assert list(perm) == expected.tolist()
    assert local.permutation("torch-cpu", 50, 3, spawn_key=(1,))[:].tolist() == \
        shuffle_oracle.permutation("torch-cpu", 50, 3, (1,)).tolist()


def test_distributed_indices_and_sampler(local: Authority) -> None:
    for rank in range(3):
        expected, num_samples, _ = shuffle_oracle.distributed(1000, 3, rank, 5, 4, True, False)
        assert local.distributed_indices(1000, rank, 3, 5, 4).tolist() == expected
        sampler = AuthoritySampler(local, 1000, num_replicas=3, rank=rank, seed=5, chunk=100)
        assert len(sampler) == num_samples
        sampler.set_epoch(4)
        assert list(sampler) == expected
    dataset: Any = list(range(11))
    sampler = AuthoritySampler(local, dataset, num_replicas=4, rank=3, drop_last=True,
                               shuffle=False)
    assert list(sampler) == shuffle_oracle.distributed(11, 4, 3, 0, 0, False, True)[0]
    with pytest.raises(ValueError, match="rank"):
        AuthoritySampler(local, 10, num_replicas=2, rank=2)


def test_dataloader_epoch(local: Authority) -> None:
    epoch = local.dataloader_epoch(200, 9, 3, num_workers=2)
    assert epoch[:].tolist() == shuffle_oracle.loader_epochs(200, 9, 4)[3]
    assert [w["worker_id"] for w in epoch.meta["workers"]] == [0, 1]
    assert np.array_equal(np.asarray(epoch.meta["workers"][1]["torch_seed"]),
                          epoch.meta["base_seed"] + 1)
