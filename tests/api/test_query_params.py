"""Distribution parameters of a request come from the registry, and OpenAPI lists them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.params import UNIFORM_PARAMS
from app.core.registry import ENGINES, parameters
from app.core.spec import Param
from app.schemas import PARAM_FIELDS, RESERVED, param_fields
from tests.support.toy import toy_engine

PATHS = ("/v1/streams/{engine}/{distribution}", "/v1/states/{engine}/{distribution}")


@pytest.mark.parametrize("path", PATHS)
def test_openapi_lists_every_registry_parameter(client: TestClient, path: str) -> None:
    listed = {p["name"]: p for p in client.get("/openapi.json").json()["paths"][path]["get"]
              ["parameters"] if p["in"] == "query"}
    declared = {p.name for e in ENGINES.values() for d in e.distributions.values()
                for p in d.params}
    assert declared <= set(listed)
    for name in declared:
        for use in parameters()[name]:
            assert use.distribution in listed[name]["description"]


def test_a_new_parameter_name_needs_no_schema_edit() -> None:
    """A distribution declaring a parameter nobody had gets a query field of that name."""
    engine = toy_engine(extra=(Param("shape_k", "float", 2.0, "A new parameter."),))
    fields = param_fields({engine.name: engine})
    assert set(fields) == {*(p.name for p in UNIFORM_PARAMS), "shape_k"}
    assert "A new parameter." in fields["shape_k"][1].description


def test_parameter_names_cannot_shadow_request_fields() -> None:
    engine = toy_engine(extra=(Param("count", "int", 1, "Clashes."),))
    with pytest.raises(ValueError, match="count"):
        param_fields({engine.name: engine})
    assert not RESERVED & set(PARAM_FIELDS)


def test_a_parameter_of_another_distribution_is_refused_by_name(client: TestClient) -> None:
    r = client.get("/v1/streams/numpy-legacy/uniform", params={"seed": 1, "count": 1, "loc": 2})
    assert r.status_code == 422
    assert r.json()["parameter"] == "loc"
    assert "not a parameter of uniform" in r.json()["message"]
