"""`compile --errors F` / `errors "F"`: the objective from measured errors (energy x t² x alpha).

The error files here are written by hand (schema recipec.errors/1), so the right plan is known
without the solver: on the llama fixture, with the ladder Q4_K Q8_0 and a budget that leaves room
for exactly one attention-sized upgrade, the upgrade must go to the tensor whose measured gain is
largest.
"""

from __future__ import annotations

import json

import pytest

from recipec.errorfile import SCHEMA, ErrorFile, ModelRef, Protocol, TensorErrors, tensors_digest
from recipec.llamacpp import is_quantizable
from recipec.loaders import load_model
from tests.kit_helpers import recipec_cli

STAR = "blk.1.attn_q.weight"


def _errors(model, star: str = STAR, alpha: dict | None = None, digest: str | None = None) -> str:
    tensors = {}
    for t in model.tensors:
        if not is_quantizable(t, arch=model.arch):
            continue
        big = t.name == star
        tensors[t.name] = TensorErrors(weighted=t.name != "token_embd.weight", energy=1000.0 if big else 1.0,
                                       rows_sampled=t.shape[1] if len(t.shape) > 1 else 1,
                                       t2={"Q4_K": 0.01, "Q8_0": 0.0001},
                                       written={"Q4_K": "Q4_K", "Q8_0": "Q8_0"})
    ef = ErrorFile(model=ModelRef(arch=model.arch, tensors_sha256=digest or tensors_digest(model.tensors),
                                  tensor_count=len(model.tensors)),
                   protocol=Protocol(row_fraction=1.0, min_rows=1, seed=0, llama_cpp="test", types=("Q4_K", "Q8_0")),
                   tensors=tensors, alpha=alpha or {})
    return ef.to_json()


def _plan(tmp_path, model_path, body: str, *extra: str, ladder: str = "Q4_K Q8_0") -> tuple[int, dict, str]:
    recipe = tmp_path / "r.recipe"
    recipe.write_text(f'recipe "r"\nladder {ladder}\n' + body)
    out = tmp_path / "kit"
    rc, _, err = recipec_cli("compile", str(recipe), "--model", str(model_path), "-o", str(out), *extra)
    plan = json.loads((out / "plan.lock.json").read_text()) if rc == 0 else {}
    return rc, plan, err


@pytest.fixture
def llama(fixture_model):
    path = fixture_model("llama")
    return path, load_model(path)


def _room_for_one(tmp_path, path) -> int:
    """The predicted size of the all-Q4_K plan, plus room for one 256x256 upgrade (32768 bytes:
    Q8_0 2048 blocks x 34 B - Q4_K 256 blocks x 144 B) and not for two 256x128 ones (2 x 16384)."""
    (tmp_path / "low").mkdir()
    rc, plan, err = _plan(tmp_path / "low", path, "budget 1 GiB\n", ladder="Q4_K")
    assert rc == 0, err
    return plan["totals"]["file_bytes"] + 32768 + 4000


def test_the_upgrade_goes_where_the_measured_gain_is(llama, tmp_path):
    path, model = llama
    budget = _room_for_one(tmp_path, path)
    for star in (STAR, "blk.0.attn_output.weight"):
        f = tmp_path / f"{star}.json"
        f.write_text(_errors(model, star))
        rc, plan, err = _plan(tmp_path, path, f"budget {budget} B\n", "--errors", str(f))
        assert rc == 0, err
        upgraded = [t["name"] for t in plan["tensors"] if t["type"] == "Q8_0"]
        assert upgraded == [star]
        assert plan["error_model"] == "measured" and plan["inputs"]["errors"]["path"] == str(f)


def test_alpha_from_probes_moves_the_upgrade(llama, tmp_path):
    path, model = llama
    budget = _room_for_one(tmp_path, path)
    f = tmp_path / "e.json"  # blk.1.attn_q measures 1000x, but the probes say layer 0's attn_output costs 10^5x
    f.write_text(_errors(model, alpha={"attn_output@first": 1e5}))
    rc, plan, err = _plan(tmp_path, path, f"budget {budget} B\n", "--errors", str(f))
    assert rc == 0, err
    assert [t["name"] for t in plan["tensors"] if t["type"] == "Q8_0"] == ["blk.0.attn_output.weight"]
    assert plan["error_model"] == "measured+kld"


def test_errors_statement_is_relative_to_the_recipe_and_the_flag_wins(llama, tmp_path):
    path, model = llama
    budget = _room_for_one(tmp_path, path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "errs.json").write_text(_errors(model))
    other = tmp_path / "other.json"
    other.write_text(_errors(model, "blk.1.attn_output.weight"))
    rc, plan, err = _plan(tmp_path, path, f'budget {budget} B\nerrors "m/errs.json"\n')
    assert rc == 0, err
    assert [t["name"] for t in plan["tensors"] if t["type"] == "Q8_0"] == [STAR]
    rc, plan, err = _plan(tmp_path, path, f'budget {budget} B\nerrors "m/errs.json"\n', "--errors", str(other))
    assert [t["name"] for t in plan["tensors"] if t["type"] == "Q8_0"] == ["blk.1.attn_output.weight"]
    card = (tmp_path / "kit" / "card.md").read_text()
    assert "| error model | measured: weight-space error of the real quantizer (other.json) |" in card


def test_an_error_file_for_another_model_is_m106(llama, tmp_path):
    path, model = llama
    f = tmp_path / "e.json"
    f.write_text(_errors(model, digest="0" * 64))
    rc, _, err = _plan(tmp_path, path, "budget 5 bpw\n", "--errors", str(f))
    assert rc == 2 and "M106 the error file was measured on another model" in err
    assert not (tmp_path / "kit").exists()


@pytest.mark.parametrize("text", ["{", '{"schema": "recipec.errors/0"}', "[]",
                                  json.dumps({"schema": SCHEMA, "model": {}})])
def test_a_bad_error_file_is_m105(llama, tmp_path, text):
    path, _ = llama
    f = tmp_path / "e.json"
    f.write_text(text)
    rc, _, err = _plan(tmp_path, path, "budget 5 bpw\n", "--errors", str(f))
    assert rc == 2 and "M105" in err


def test_a_type_the_file_did_not_measure_is_not_a_candidate(llama, tmp_path):
    path, model = llama
    f = tmp_path / "e.json"
    f.write_text(_errors(model))
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "r"\nladder Q4_K Q6_K Q8_0\nbudget 6 bpw\n')
    rc, out, err = recipec_cli("explain", str(recipe), "--model", str(path), "--errors", str(f), STAR)
    assert rc == 0, err
    assert "     Q6_K     removed: not measured in the error file" in out
    assert "measured error model" in out


@pytest.mark.llama
def test_measure_then_compile_with_the_measured_file(fixture_model, fixture_imatrix, llama_quantize, tmp_path):
    """The whole route on the real binary: measure, compile --errors under a budget, the kit's plan
    says `measured`, and every decided group's costs are energy x t² from the file."""
    model, imatrix = fixture_model("qwen35moe"), fixture_imatrix("qwen35moe")
    errs = tmp_path / "errs.json"
    rc, _, err = recipec_cli("measure", str(model), "--imatrix", str(imatrix), "-o", str(errs),
                             "--llama-quantize", str(llama_quantize))
    assert rc == 0, err
    rc, plan, err = _plan(tmp_path, model, "budget 5 bpw\n", "--errors", str(errs), "--imatrix", str(imatrix),
                          ladder="Q3_K Q4_K Q5_K Q6_K Q8_0")
    assert "L003" not in err
    assert rc == 0, err
    assert plan["error_model"] == "measured" and plan["totals"]["bpw"] <= 5.0
    measured = json.loads(errs.read_text())["tensors"]
    for g in plan["problem"]["groups"]:
        if len(g["tensors"]) == 1 and measured[g["tensors"][0]]["weighted"]:
            te = measured[g["tensors"][0]]
            costs = sorted(o["cost"] for o in g["options"])
            want = sorted(te["energy"] * te["t2"][typ] for typ in te["t2"] if typ in [o["type"] for o in g["options"]])
            assert costs == pytest.approx(want)


def test_a_budget_spent_by_the_theoretical_model_says_how_to_measure(llama, tmp_path):
    path, model = llama
    budget = _room_for_one(tmp_path, path)
    (tmp_path / "t").mkdir()
    rc, plan, err = _plan(tmp_path / "t", path, f"budget {budget} B\n")
    assert rc == 0 and "R311" in err and "recipec measure" in err and ":3:1: R311 note" in err
    assert not any("R311" in n or "theoretical error model" in n for n in plan["notes"])  # advice, not in the plan
    f = tmp_path / "e.json"
    f.write_text(_errors(model))
    (tmp_path / "m").mkdir()
    rc, _, err = _plan(tmp_path / "m", path, f"budget {budget} B\n", "--errors", str(f))
    assert rc == 0 and "R311" not in err  # measured: nothing to say
    (tmp_path / "n").mkdir()
    rc, _, err = _plan(tmp_path / "n", path, "base Q4_K_M\n", ladder="Q4_K Q8_0")
    assert rc == 0 and "R311" not in err  # no budget: no trade-off was made
