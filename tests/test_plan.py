"""The plan schema: deterministic JSON, round trip, V402 on bad files."""

import json

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_model
from recipec.plan import Plan
from recipec.recipe import load
from recipec.resolve import resolve


@pytest.fixture(scope="module")
def plan(fixture_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    r = d / "r.recipe"
    r.write_text('recipe "p"\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K\nbudget 5 bpw\npin output Q8_0\n')
    return resolve(load(str(r)).recipe, load_model(fixture_model("llama"))).plan


def test_round_trip_and_deterministic(plan, tmp_path):
    text = plan.to_json()
    assert text.endswith("}\n") and text == plan.to_json()
    data = json.loads(text)
    assert data["schema"] == "recipec.plan/2"
    assert list(data) == sorted(data)
    p = tmp_path / "plan.lock.json"
    p.write_text(text)
    assert Plan.load(str(p)) == plan


def test_contract_fields(plan):
    d = plan.to_dict()
    assert {"tensor_bytes", "file_bytes", "bpw", "budget_bytes", "objective", "bound", "gap", "solver"} <= set(d["totals"])
    t = d["tensors"][0]
    assert {"name", "role", "layer", "mtp", "shape", "source_type", "type", "bytes", "reason"} <= set(t)
    assert d["tensors"][0]["layer"] is None  # globals first, as llama-quantize writes them
    lq = d["llama_quantize"]
    assert lq["args"] == ["--tensor-type-file", "tensor-types.txt", "llama.gguf", "p.gguf", "Q4_K_M"]
    assert lq["options"] == ["--tensor-type-file", "tensor-types.txt"]
    assert (lq["tensor_type_file"], lq["imatrix"], lq["prune_layers"], lq["override_kv"]) == \
        ("tensor-types.txt", None, [], [])
    prob = d["problem"]
    assert sum(g["options"][g["chosen"]]["bytes"] for g in prob["groups"]) <= prob["capacity_bytes"]
    assert sum(g["options"][g["chosen"]]["cost"] for g in prob["groups"]) == pytest.approx(d["totals"]["objective"])


@pytest.mark.parametrize("text", ["{", '{"schema": "other"}', '{"schema": "recipec.plan/1"}', "[]"])
def test_bad_plan_is_v402(text, tmp_path):
    p = tmp_path / "plan.lock.json"
    p.write_text(text)
    with pytest.raises(DiagnosticError) as exc:
        Plan.load(str(p))
    assert exc.value.diagnostics[0].code == "V402"
