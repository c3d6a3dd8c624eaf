"""recipec verify: a GGUF against its plan, tensor by tensor (no llama.cpp needed here)."""

from __future__ import annotations

import json

import pytest

from recipec.plan import Plan
from recipec.verify import compare, read_tensors
from tests.kit_helpers import compiled_kit, recipec_cli

RECIPE = 'recipe "v"\narch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n'


@pytest.fixture(scope="module")
def kit(fixture_model, tmp_path_factory):
    return compiled_kit(tmp_path_factory.mktemp("verify"), RECIPE, fixture_model("llama"))


def _as_source(plan: Plan, model_path) -> Plan:
    """PLAN rewritten to say exactly what the source file holds."""
    found = {t.name: t for t in read_tensors([model_path])}
    tensors = tuple(t.model_copy(update={"type": found[t.name].type, "bytes": found[t.name].bytes})
                    for t in plan.tensors)
    return plan.model_copy(update={"tensors": tensors})


def test_matching_file_exits_0(kit, fixture_model, tmp_path):
    plan = _as_source(Plan.load(str(kit / "plan.lock.json")), fixture_model("llama"))
    (tmp_path / "p.json").write_text(plan.to_json())
    rc, out, err = recipec_cli("verify", str(tmp_path / "p.json"), str(fixture_model("llama")))
    assert rc == 0 and out == "" and "all 21 tensors match" in err


def test_mismatches_are_listed(kit, fixture_model):
    rc, out, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(fixture_model("llama")))
    assert rc == 1
    assert "output.weight: type planned Q8_0, file has F16" in out
    assert "output.weight: bytes planned" in out
    assert "V401" in err


def test_missing_extra_and_shape(kit, fixture_model):
    plan = _as_source(Plan.load(str(kit / "plan.lock.json")), fixture_model("llama"))
    first, second = plan.tensors[0], plan.tensors[1]
    renamed = first.model_copy(update={"name": "ghost.weight"})
    reshaped = second.model_copy(update={"shape": (7,)})
    plan = plan.model_copy(update={"tensors": (renamed, reshaped) + plan.tensors[2:]})
    diffs = {(d.name, d.kind) for d in compare(plan, read_tensors([fixture_model("llama")]))}
    assert diffs == {("ghost.weight", "missing"), (first.name, "extra"), (second.name, "shape")}


def test_json_format(kit, fixture_model):
    rc, out, _ = recipec_cli("verify", "--format", "json", str(kit / "plan.lock.json"), str(fixture_model("llama")))
    doc = json.loads(out)
    assert rc == 1 and doc["schema"] == "recipec.verify/1" and not doc["ok"]
    assert {"name": "output.weight", "kind": "type", "planned": "Q8_0", "found": "F16"} in doc["differences"]


def test_unreadable_inputs_exit_2(kit, tmp_path):
    (tmp_path / "x.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 10)
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(tmp_path / "x.gguf"))
    assert rc == 2 and "V403" in err
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(tmp_path / "missing.gguf"))
    assert rc == 2 and "V403" in err
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    rc, _, err = recipec_cli("verify", str(tmp_path / "bad.json"), str(tmp_path / "x.gguf"))
    assert rc == 2 and "V402" in err
