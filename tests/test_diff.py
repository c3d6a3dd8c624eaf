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


LLAMA = 'recipe "l"\narch llama\nbase Q4_K_M\n'


@pytest.fixture(scope="module")
def other_plans(fixture_model, tmp_path_factory):
    """Plans of other models: llama, llama_ff1000 (same arch, other shapes), qwen35moe with `mtp drop`."""
    tmp = tmp_path_factory.mktemp("diff-models")
    (tmp / "l.recipe").write_text(LLAMA)
    (tmp / "drop.recipe").write_text(RECIPE.replace("mtp keep Q6_K", "mtp drop"))
    for out, recipe, kind in (("llama", "l", "llama"), ("ff1000", "l", "llama_ff1000"),
                              ("drop", "drop", "qwen35moe")):
        rc, err = compile_kit(tmp / f"{recipe}.recipe", fixture_model(kind), tmp / out)
        assert rc == 0, err
    return {k: str(tmp / k / "plan.lock.json") for k in ("llama", "ff1000", "drop")}


def test_diff_refuses_another_architecture(kits, other_plans):
    tmp, _ = kits
    rc, out, err = recipec_cli("diff", str(tmp / "a" / "plan.lock.json"), other_plans["llama"])
    assert rc == 2 and out == ""
    assert "V404 the plans are of different models: architecture qwen35moe vs llama" in err


def test_diff_refuses_other_shapes_of_one_architecture(other_plans):
    rc, out, err = recipec_cli("diff", other_plans["llama"], other_plans["ff1000"])
    assert rc == 2 and out == ""
    assert "architecture" not in err
    assert "6 tensors of another shape (blk.0.ffn_down.weight [800, 256] vs [1000, 256]" in err


def test_diff_force_compares_anyway(other_plans):
    rc, out, err = recipec_cli("diff", "--force", other_plans["llama"], other_plans["ff1000"])
    assert rc == 1 and "V404" in err and "ffn_down" in out


def test_dropped_mtp_is_the_same_model(kits, other_plans):
    tmp, _ = kits
    rc, out, err = recipec_cli("diff", str(tmp / "a" / "plan.lock.json"), other_plans["drop"])
    assert rc == 1 and "V404" not in err and "(absent)" in out
