"""POST /v1/calls and GET /v1/calls: call programs replayed exactly, and nothing else."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_safetensors

from app.config import Settings
from app.core.calls_whitelist import CALL_ENGINES, REFUSED
from app.core.registry import ENGINES
from app.main import create_app
from tests.support.call_programs import (
    FAMILY,
    FUNCTIONS,
    as_array,
    global_states_kept,
    programs,
    run_locally,
)

URL = "/v1/calls"
DEPTH = settings().max_examples  # 400; HYPOTHESIS_MAX_EXAMPLES deepens every test here
APP = create_app()
CLIENT = TestClient(APP)
SMALL = TestClient(create_app(Settings(max_call_elements=10_000)))


def post(body: dict[str, Any], fmt: str = "json", client: TestClient = CLIENT) -> Any:
    return client.post(URL, params={"format": fmt}, json=body)


def assert_same(got: torch.Tensor, expected: Any) -> None:
    """Same shape, dtype and bits (an empty result: same shape)."""
    if isinstance(expected, torch.Tensor):
        assert got.dtype == expected.dtype
        assert got.shape == expected.shape
        if expected.dtype == torch.bfloat16:
            got, expected = got.view(torch.int16), expected.view(torch.int16)
        assert torch.equal(got, expected)
        return
    arr = got.numpy()
    assert arr.shape == expected.shape
    if expected.size:
        assert arr.dtype == expected.dtype, (arr.dtype, expected.dtype)
        assert arr.tobytes() == np.ascontiguousarray(expected).tobytes()


# --- the seed document's examples, verbatim ------------------------------------------------

def test_torch_manual_seed_0_randn_8() -> None:
    """``torch.manual_seed(0); torch.randn(8)``: 1.5410, -0.2934, -2.1788, 0.5684, ..."""
    body = post({"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "randn", "args": [8]}]})
    assert body.status_code == 200, body.text
    result = body.json()["results"][0]
    assert result["shape"] == [8]
    assert result["dtype"] == "float32"
    assert [round(v, 4) for v in result["values"][:4]] == [1.5410, -0.2934, -2.1788, 0.5684]
    with global_states_kept():
        torch.manual_seed(0)
        expected = torch.randn(8)
    assert torch.equal(torch.tensor(result["values"], dtype=torch.float64).float(), expected)
    assert body.json()["reference"] == "import torch\ntorch.manual_seed(0)\nr0 = torch.randn(8)\n"


def test_numpy_seed_7_rand_3_rand_3() -> None:
    """``np.random.seed(7); rand(3); rand(3)``: the second call continues the first."""
    resp = post({"engine": "numpy-legacy", "seed": 7, "calls": [
        {"fn": "rand", "args": [3]}, {"fn": "rand", "args": [3]}]})
    assert resp.status_code == 200, resp.text
    with global_states_kept():
        np.random.seed(7)
        first, second = np.random.rand(3), np.random.rand(3)
    values = [r["values"] for r in resp.json()["results"]]
    assert values == [first.tolist(), second.tolist()]
    assert values[1] == [0.7234651778309412, 0.9779895119966027, 0.5384958704104337]
    assert resp.json()["reference"] == ("import numpy as np\nnp.random.seed(7)\n"
                                        "r0 = np.random.rand(3)\nr1 = np.random.rand(3)\n")


def test_issue_example_program() -> None:
    body = {"engine": "torch-cpu", "seed": 0, "calls": [
        {"fn": "randn", "args": [8]}, {"fn": "rand", "args": [2, 3]},
        {"fn": "randint", "args": [0, 10, [5]]}]}
    out = load_safetensors(post(body, "safetensors").content)
    with global_states_kept():
        torch.manual_seed(0)
        expected = [torch.randn(8), torch.rand(2, 3), torch.randint(0, 10, (5,))]
    for i, e in enumerate(expected):
        assert_same(out[f"r{i}"], e)


# --- random programs against the libraries ---------------------------------------------------

ENGINE_NAMES = sorted(CALL_ENGINES)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@settings(max_examples=DEPTH // 10)
@given(data=st.data())
def test_random_programs_match_the_library(engine: str, data: st.DataObject) -> None:
    seed, calls = data.draw(programs(engine))
    resp = post({"engine": engine, "seed": seed, "calls": calls}, "safetensors")
    assert resp.status_code == 200, (calls, resp.text)
    got = load_safetensors(resp.content)
    expected = run_locally(engine, seed, calls)
    for i, (call, value) in enumerate(zip(calls, expected, strict=True)):
        assert_same(got[f"r{i}"], as_array(value, call["fn"]))


@pytest.mark.parametrize("engine", ["numpy-legacy", "numpy-pcg64", "python-random",
                                    "torch-cpu"])
@settings(max_examples=DEPTH // 25)
@given(data=st.data())
def test_reference_program_makes_the_results(engine: str, data: st.DataObject) -> None:
    """Run the response's `reference` itself: its r<i> are the results, bit for bit."""
    seed, calls = data.draw(programs(engine))
    results = data.draw(st.lists(st.integers(0, len(calls) - 1), unique=True))
    resp = post({"engine": engine, "seed": seed, "calls": calls, "results": results}, "npz"
                if FAMILY[engine] != "torch" else "safetensors")
    assert resp.status_code == 200, resp.text
    arrays = (load_safetensors(resp.content) if FAMILY[engine] == "torch"
              else dict(np.load(io.BytesIO(resp.content))))
    assert list(arrays) == [f"r{i}" for i in results] or set(arrays) == {f"r{i}" for i in
                                                                          results}
    reference = post({"engine": engine, "seed": seed, "calls": calls}).json()["reference"]
    scope: dict[str, Any] = {}
    with global_states_kept():
        exec(reference, scope)
    for i in results:
        expected = as_array(scope[f"r{i}"], calls[i]["fn"])
        got = arrays[f"r{i}"]
        assert_same(got if isinstance(got, torch.Tensor) else torch.from_numpy(got), expected)


@settings(max_examples=DEPTH // 20)
@given(data=st.data())
def test_json_values_are_the_binary_bits(data: st.DataObject) -> None:
    engine = data.draw(st.sampled_from(ENGINE_NAMES))
    seed, calls = data.draw(programs(engine, max_calls=4))
    body = {"engine": engine, "seed": seed, "calls": calls}
    doc = post(body).json()
    tensors = load_safetensors(post(body, "safetensors").content)
    for result in doc["results"]:
        t = tensors[result["name"]]
        assert result["shape"] == list(t.shape)
        assert result["dtype"] == str(t.dtype).removeprefix("torch.")
        if t.is_floating_point():
            parsed = torch.tensor(result["values"], dtype=torch.float64).to(t.dtype)
            assert torch.equal(parsed.view(-1), t.reshape(-1)), result
        else:
            assert result["values"] == t.reshape(-1).tolist()


def test_every_whitelisted_function_is_exercised() -> None:
    """The programs above draw every function of every engine (add one: add its strategy)."""
    for engine in CALL_ENGINES.values():
        assert sorted(engine.functions) == sorted(FUNCTIONS[FAMILY[engine.name]]), engine.name


def test_every_engine_has_replay_or_a_reason() -> None:
    assert set(CALL_ENGINES) | set(REFUSED) <= set(ENGINES)
    resp = post({"engine": "torch-cuda", "seed": 0, "calls": [{"fn": "rand", "args": [3]}]})
    assert resp.status_code == 422
    assert resp.json()["parameter"] == "engine"
    assert "GPU" in resp.json()["message"]


def test_results_pick_calls_but_all_run() -> None:
    calls = [{"fn": "random", "args": [2]}, {"fn": "random", "args": [3]},
             {"fn": "normal", "args": [0.0, 1.0, 4]}]
    doc = post({"engine": "numpy-pcg64", "seed": 3, "calls": calls, "results": [2, 0]}).json()
    rng = np.random.default_rng(3)
    first, _, third = rng.random(2), rng.random(3), rng.normal(0.0, 1.0, 4)
    assert [r["index"] for r in doc["results"]] == [2, 0]
    assert doc["results"][0]["values"] == third.tolist()
    assert doc["results"][1]["values"] == first.tolist()
    for results, parameter in [([3], "results[0]"), ([0, 0], "results[1]"), ([-1], "results[0]")]:
        bad = post({"engine": "numpy-pcg64", "seed": 3, "calls": calls, "results": results})
        assert bad.status_code == 422
        assert bad.json()["parameter"] == parameter


def test_python_scalars_lists_and_bytes() -> None:
    calls = [{"fn": "random"}, {"fn": "shuffle", "args": [[1, 2, 3, 4, 5]]},
             {"fn": "sample", "args": [[1.5, 2.5, 3.5], 2]}, {"fn": "getrandbits", "args": [64]},
             {"fn": "randbytes", "args": [4]}, {"fn": "choice", "args": [[7, 8, 9]]}]
    doc = post({"engine": "python-random", "seed": 12, "calls": calls}).json()
    r = random.Random(12)
    x = [1, 2, 3, 4, 5]
    expected: list[Any] = [r.random(), None, None, None, None, None]
    r.shuffle(x)
    expected[1:] = [x, r.sample([1.5, 2.5, 3.5], 2), r.getrandbits(64), list(r.randbytes(4)),
                    r.choice([7, 8, 9])]
    got = [(res["shape"], res["dtype"], res["values"]) for res in doc["results"]]
    assert got == [([], "float64", [expected[0]]), ([5], "int64", expected[1]),
                   ([2], "float64", expected[2]), ([], "uint64", [expected[3]]),
                   ([4], "uint8", expected[4]), ([], "int64", [expected[5]])]
    assert "r1 = [1, 2, 3, 4, 5]\nrandom.shuffle(r1)\n" in doc["reference"]


# --- the whitelist refuses everything else ----------------------------------------------------

REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    ("torch-cpu", {"fn": "__import__", "args": ["os"]}, "calls[1].fn", "not a function"),
    ("torch-cpu", {"fn": "manual_seed", "args": [1]}, "calls[1].fn", "not a function"),
    ("torch-cpu", {"fn": "randn.__globals__"}, "calls[1].fn", "not a function"),
    ("numpy-legacy", {"fn": "seed", "args": [1]}, "calls[1].fn", "not a function"),
    ("numpy-legacy", {"fn": "set_state", "args": [[]]}, "calls[1].fn", "not a function"),
    ("python-random", {"fn": "setstate", "args": [[]]}, "calls[1].fn", "not a function"),
    ("python-random", {"fn": "_randbelow", "args": [3]}, "calls[1].fn", "not a function"),
    ("numpy-pcg64", {"fn": "bit_generator"}, "calls[1].fn", "not a function"),
    ("torch-cpu", {"fn": "randn", "args": ["8"]}, "calls[1].args[0]", "integer"),
    ("torch-cpu", {"fn": "randn", "args": [-1]}, "calls[1].args[0]", ">= 0"),
    ("torch-cpu", {"fn": "randn", "args": [2], "kwargs": {"dtype": "torch.float32"}},
     "calls[1].kwargs.dtype", "one of"),
    ("torch-cpu", {"fn": "randn", "args": [2], "kwargs": {"generator": None}},
     "calls[1].kwargs.generator", "unknown argument"),
    ("torch-cpu", {"fn": "randn", "args": [2], "kwargs": {"out": [1]}},
     "calls[1].kwargs.out", "unknown argument"),
    ("torch-cpu", {"fn": "randint", "args": [5]}, "calls[1].args", "forms"),
    ("torch-cpu", {"fn": "bernoulli", "args": [[2.0]]}, "calls[1]", "refused it"),
    ("numpy-legacy", {"fn": "normal", "args": [0.0, -1.0]}, "calls[1].args[1]", ">= 0"),
    ("numpy-legacy", {"fn": "normal", "args": [0.0, 1.0, 3, 4]}, "calls[1].args",
     "at most 3"),
    ("numpy-legacy", {"fn": "normal", "args": [0.0], "kwargs": {"loc": 1.0}},
     "calls[1].kwargs.loc", "positionally too"),
    ("numpy-legacy", {"fn": "triangular", "args": [3.0, 2.0, 1.0]}, "calls[1]", "refused it"),
    ("numpy-legacy", {"fn": "zipf", "args": [1.0001]}, "calls[1].args[0]", ">= 1.01"),
    ("numpy-legacy", {"fn": "uniform", "args": [{"__class__": 1}]}, "calls[1].args[0]",
     "number"),
    ("numpy-legacy", {"fn": "choice", "args": [[1, 2.5]]}, "calls[1].args[0]", "all integers"),
    ("numpy-legacy", {"fn": "choice", "args": [[[1], [2]]]}, "calls[1].args[0][0]", "number"),
    ("numpy-legacy", {"fn": "rand", "args": [True]}, "calls[1].args[0]", "integer"),
    ("numpy-pcg64", {"fn": "integers", "args": [0, 10],
                     "kwargs": {"dtype": "object"}}, "calls[1].kwargs.dtype", "one of"),
    ("numpy-pcg64", {"fn": "integers", "args": [0, 2**64]}, "calls[1].args[1]", "<="),
    ("numpy-pcg64", {"fn": "random", "args": [[2] * 33]}, "calls[1].args[0]", "dimensions"),
    ("python-random", {"fn": "choice", "args": [[]]}, "calls[1]", "refused it"),
    ("python-random", {"fn": "expovariate", "args": [0.0]}, "calls[1]", "refused it"),
    ("python-random", {"fn": "getrandbits", "args": [65]}, "calls[1].args[0]", "<= 64"),
    ("python-random", {"fn": "random", "args": [1]}, "calls[1].args", "at most 0"),
    ("python-random", {"fn": "sample", "args": [[1, 2]]}, "calls[1].args", "'k'"),
    ("python-random", {"fn": "choices", "args": [[1, 2], None, None, 3]}, "calls[1].args",
     "at most 2"),
]


@pytest.mark.parametrize(("engine", "call", "parameter", "reason"), REFUSALS)
def test_whitelist_refuses_with_the_call_index_and_reason(
        engine: str, call: dict[str, Any], parameter: str, reason: str) -> None:
    first: dict[str, Any] = {"fn": "random"}
    if engine == "torch-cpu":
        first = {"fn": "randn", "args": [2]}
    elif engine == "numpy-legacy":
        first = {"fn": "rand", "args": []}
    resp = post({"engine": engine, "seed": 1, "calls": [first, call]})
    assert resp.status_code == 422, resp.text
    err = resp.json()
    assert err["error"] == "invalid_parameter"
    assert err["parameter"] == parameter, err
    assert reason in err["message"], err


@settings(max_examples=DEPTH // 7)
@given(engine=st.sampled_from(ENGINE_NAMES),
       fn=st.text(max_size=20) | st.sampled_from(["eval", "exec", "getattr", "__class__",
                                                   "os.system", "np.random.seed", "seed",
                                                   "get_state", "set_state", "manual_seed"]),
       args=st.lists(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                     | st.floats(allow_nan=False, allow_infinity=False)
                     | st.lists(st.integers(), max_size=3), max_size=4))
def test_anything_else_is_a_422_never_a_500(engine: str, fn: str, args: list[Any]) -> None:
    resp = post({"engine": engine, "seed": 0, "calls": [{"fn": fn, "args": args}]},
                client=SMALL)
    if fn not in CALL_ENGINES[engine].functions:
        assert resp.status_code == 422
        assert resp.json()["parameter"] == "calls[0].fn"
    else:
        assert resp.status_code in (200, 413, 422), resp.text
        if resp.status_code != 200:
            assert resp.json()["parameter"].startswith("calls[0]")


def test_non_finite_json_numbers_are_refused() -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"engine": "numpy-legacy", "seed": 0, "calls": [{"fn": "normal", "args": [' + \
            literal + b']}]}'
        resp = CLIENT.post(URL, content=body, headers={"Content-Type": "application/json"})
        assert resp.status_code == 422, resp.text
        assert resp.json()["parameter"].startswith("calls[0]")


def test_work_limit_names_the_call_past_it() -> None:
    client = TestClient(create_app(Settings(max_call_elements=1000)))
    ok = post({"engine": "numpy-pcg64", "seed": 0, "calls": [{"fn": "random", "args": [999]}]},
              client=client)
    assert ok.status_code == 200
    calls = [{"fn": "random", "args": [400]}, {"fn": "random", "args": [400]},
             {"fn": "random", "args": [400]}]
    resp = post({"engine": "numpy-pcg64", "seed": 0, "calls": calls}, client=client)
    assert resp.status_code == 413
    assert resp.json()["parameter"] == "calls[2]"
    assert "1000" in resp.json()["message"]
    # A call that makes little but reads or permutes much counts its work.
    big = post({"engine": "numpy-legacy", "seed": 0, "calls": [
        {"fn": "choice", "args": [10**12, 3], "kwargs": {"replace": False}}]}, client=client)
    assert big.status_code == 413
    huge = post({"engine": "torch-cpu", "seed": 0, "calls": [
        {"fn": "rand", "args": [2**40, 2**40]}]})
    assert huge.status_code == 413


def test_bad_bodies() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"engine": "torch-cpu", "seed": 0, "calls": []}, "calls"),
        ({"engine": "torch-cpu", "seed": -1, "calls": [{"fn": "rand"}]}, "seed"),
        ({"engine": "numpy-legacy", "seed": 2**32, "calls": [{"fn": "rand"}]}, "seed"),
        ({"engine": "numpy-legacy", "seed": True, "calls": [{"fn": "rand"}]}, "seed"),
        ({"engine": "numpy-legacy", "seed": "7", "calls": [{"fn": "rand"}]}, "seed"),
        ({"engine": "numpy-legacy", "seed": 7, "calls": [{"fn": "rand"}], "results": [False]},
         "results[0]"),
        ({"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "rand", "args": 3}]},
         "calls[0].args"),
        ({"engine": "nope", "seed": 0, "calls": [{"fn": "rand"}]}, "engine"),
        ({"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "rand", "code": "x"}]},
         "calls[0].code"),
        ({"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "rand"}], "x": 1}, "x"),
    ]
    for body, parameter in cases:
        resp = post(body)
        assert resp.status_code == 422, body
        assert resp.json()["parameter"] == parameter, resp.json()


def test_formats_and_negotiation() -> None:
    body = {"engine": "torch-cpu", "seed": 5, "calls": [
        {"fn": "rand", "args": [3], "kwargs": {"dtype": "bfloat16"}}, {"fn": "randperm",
                                                                       "args": [6]}]}
    npz = post(body, "npz")
    assert npz.status_code == 422
    assert npz.json()["parameter"] == "format"
    body["results"] = [1]
    arrays = np.load(io.BytesIO(post(body, "npz").content))
    g = torch.Generator().manual_seed(5)
    torch.rand(3, dtype=torch.bfloat16, generator=g)
    assert arrays["r1"].tolist() == torch.randperm(6, generator=g).tolist()
    for accept, ctype in [("application/x-npz", "application/x-npz"),
                          ("application/x-safetensors", "application/x-safetensors"),
                          ("*/*", "application/json")]:
        resp = CLIENT.post(URL, json=body, headers={"Accept": accept})
        assert resp.headers["content-type"].startswith(ctype)
    assert CLIENT.post(URL, json=body, headers={"Accept": "text/html"}).status_code == 406
    meta = json.loads(json.dumps(load_meta(post(body, "safetensors").content)))
    assert meta["engine"] == "torch-cpu"
    assert "torch.randperm(6)" in meta["reference"]


def load_meta(blob: bytes) -> dict[str, str]:
    header = int.from_bytes(blob[:8], "little")
    meta: dict[str, str] = json.loads(blob[8:8 + header])["__metadata__"]
    return meta


def test_requests_never_touch_global_rng_state() -> None:
    np_state = np.random.get_state(legacy=False)
    py_state, t_state = random.getstate(), torch.get_rng_state()
    for engine in ENGINE_NAMES:
        family = FAMILY[engine]
        fn = {"legacy": "randn", "generator": "standard_normal", "python": "gauss",
              "torch": "randn"}[family]
        args = [] if family == "python" else [5]
        assert post({"engine": engine, "seed": 3, "calls": [
            {"fn": fn, "args": args}]}).status_code == 200
    assert json.dumps(py_state) == json.dumps(random.getstate())
    after = np.random.get_state(legacy=False)
    assert np.array_equal(np_state["state"]["key"], after["state"]["key"])
    assert np_state["state"]["pos"] == after["state"]["pos"]
    assert torch.equal(t_state, torch.get_rng_state())


def test_list_of_functions() -> None:
    doc = CLIENT.get(URL).json()
    assert {e["name"] for e in doc["engines"]} == set(CALL_ENGINES)
    assert doc["refused"] == REFUSED
    assert doc["max_call_elements"] == Settings().max_call_elements
    torch_cpu = next(e for e in doc["engines"] if e["name"] == "torch-cpu")
    randint = next(f for f in torch_cpu["functions"] if f["name"] == "randint")
    assert [p["name"] for p in randint["params"]] == ["low", "high", "size", "dtype"]
    assert torch_cpu["program"].startswith("import torch\ntorch.manual_seed(seed)")


def test_readme_example_is_what_the_service_answers() -> None:
    """The README's call replay example: its request, reference and values, verbatim."""
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    section = readme.split("### Call replay: `POST /v1/calls`", 1)[1].split("\n### ", 1)[0]
    request = section.split("-d '", 1)[1].split("'\n", 1)[0]
    shown = section.split("\n{", 1)[1].split("\n```", 1)[0]
    doc = post(json.loads(request)).json()
    for result in doc["results"]:
        compact = json.dumps(result, separators=(",", ":"))
        assert compact in shown, compact
    assert json.dumps(doc["reference"]) in shown
    assert '"randn", "args": [8]' in section
    assert "1.5410, -0.2934, -2.1788, 0.5684" in section


def test_programs_reserve_from_the_memory_budget() -> None:
    """A program whose results cannot fit the whole memory budget is a 413 before it runs;
    one that fits is answered and leaves nothing reserved."""
    app = create_app(Settings(memory_budget=8 << 20))
    tight = TestClient(app)
    big = {"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "rand", "args": [2_000_000]}]}
    resp = post(big, client=tight)
    assert resp.status_code == 413, resp.text
    assert "budget" in resp.json()["message"]
    small = {"engine": "torch-cpu", "seed": 0, "calls": [{"fn": "rand", "args": [1000]}]}
    assert post(small, client=tight).status_code == 200
    assert app.state.memory_budget.stats().reserved == 0
