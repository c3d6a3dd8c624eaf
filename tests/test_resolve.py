"""Resolution: precedence, floor above ceiling, defaults, reasons."""

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.modelinfo import load_model
from recipec.recipe import load
from recipec.resolve import DEFAULT_LADDER, resolve


@pytest.fixture(scope="module")
def llama(fixture_model):
    return load_model(fixture_model("llama"))


def _res(tmp_path, body, model):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "t"\nbase Q4_K_M\n' + body)
    return resolve(load(str(p)).recipe, model)


def test_no_budget_takes_best_within_ceiling(llama, tmp_path):
    plan = _res(tmp_path, "ceiling attn_* Q5_K\n", llama).plan
    for t in plan.tensors:
        if t.role.startswith("attn_") and t.reason != "not-quantized":
            assert t.type in ("Q5_K", "Q5_1", "Q5_0", "F16")
        elif t.reason != "not-quantized" and "fallback" not in t.reason:
            assert t.type == DEFAULT_LADDER[-1]


def test_pin_beats_floor_and_ceiling(llama, tmp_path):
    plan = _res(tmp_path, "floor attn_q Q6_K\nceiling attn_q Q6_K\npin attn_q@0 Q4_K\n", llama).plan
    t = plan.tensor("blk.0.attn_q.weight")
    assert t.type == "Q4_K" and t.reason == "pin@5"


def test_highest_floor_lowest_ceiling(llama, tmp_path):
    plan = _res(tmp_path, "floor attn_v Q4_K\nfloor attn_v Q6_K\nceiling attn_v Q8_0\nceiling attn_v Q6_K\n", llama).plan
    t = plan.tensor("blk.0.attn_v.weight")
    assert t.type == "Q6_K" and t.reason in ("floor@4", "ceiling@6")


def test_floor_above_ceiling_names_both_lines(llama, tmp_path):
    with pytest.raises(DiagnosticError) as exc:
        _res(tmp_path, "floor attn_v Q6_K\nceiling attn_* Q4_K\n", llama)
    d = exc.value.diagnostics[0]
    assert d.code == "R307" and d.span.line == 3 and ":4:" in " ".join(d.notes)


def test_ties_make_one_group(llama, tmp_path):
    res = _res(tmp_path, "budget 5 bpw\ntie attn_q attn_k attn_v\n", llama)
    g = [g for g in res.plan.problem.groups if "blk.0.attn_q.weight" in g.tensors][0]
    assert set(g.tensors) == {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}
    assert len({res.plan.tensor(n).type for n in g.tensors}) == 1


def test_never_quantized_warns(llama, tmp_path):
    res = _res(tmp_path, "floor attn_norm Q8_0\n", llama)
    assert any(d.code == "R302" for d in res.diagnostics)
