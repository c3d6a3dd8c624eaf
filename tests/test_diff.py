"""recipec diff and compile --check: what a recipe edit changes, tensor by tensor."""

from __future__ import annotations

import json

import pytest

from tests.kit_helpers import compile_kit, recipec_cli

RECIPE = ('recipe "d"\narch qwen35moe\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\nbudget 6.5 bpw\n'
          "mtp keep Q6_K\n")


@pytest.fixture(scope="module")
def kits(fixture_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diff")
    model = fixture_model("qwen35moe")
    recipe = tmp / "r.recipe"
    recipe.write_text(RECIPE)
    rc, err = compile_kit(recipe, model, tmp / "a")
    assert rc == 0, err
    rc, err = compile_kit(recipe, model, tmp / "a", "--check")
    assert rc == 0, err
    recipe.write_text(RECIPE + "pin ffn_down_exps Q8_0\n")
    check = compile_kit(recipe, model, tmp / "a", "--check")
    rc, err = compile_kit(recipe, model, tmp / "b")
    assert rc == 0, err
    return tmp, check


def test_compile_check_sees_the_edit(kits):
    _, (rc, err) = kits
    assert rc == 1 and "E402" in err


def test_diff_shows_the_changed_tensors(kits):
    tmp, _ = kits
    rc, out, _ = recipec_cli("diff", str(tmp / "a" / "plan.lock.json"), str(tmp / "b" / "plan.lock.json"))
    assert rc == 1
    line = next(l for l in out.splitlines() if l.startswith("ffn_down_exps ") and "-> Q8_0" in l)
    assert "-> Q8_0" in line and "tensor(s)" in line
    assert "objective" in out and "tensor_bytes" in out


def test_diff_json(kits):
    tmp, _ = kits
    rc, out, _ = recipec_cli("diff", "--format", "json", str(tmp / "a" / "plan.lock.json"),
                             str(tmp / "b" / "plan.lock.json"))
    doc = json.loads(out)
    assert rc == 1 and doc["schema"] == "recipec.diff/1"
    names = {t["name"] for t in doc["tensors"] if t["to"] == "Q8_0"}
    assert {"blk.0.ffn_down_exps.weight", "blk.1.ffn_down_exps.weight"} <= names
    assert doc["totals"]["tensor_bytes"]["delta"] == doc["totals"]["tensor_bytes"]["b"] - doc["totals"]["tensor_bytes"]["a"]


def test_same_plan_no_changes(kits):
    tmp, _ = kits
    p = str(tmp / "a" / "plan.lock.json")
    rc, out, _ = recipec_cli("diff", p, p)
    assert rc == 0 and "no tensor changed" in out


def test_bad_plan_exit_2(tmp_path):
    (tmp_path / "x.json").write_text("nope")
    rc, _, err = recipec_cli("diff", str(tmp_path / "x.json"), str(tmp_path / "x.json"))
    assert rc == 2 and "V402" in err
