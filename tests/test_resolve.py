"""Resolution: precedence, floor above ceiling, defaults, reasons."""

import pytest

from recipec.diagnostics import DiagnosticError
from recipec.loaders import load_model
from recipec.recipe import load
from recipec.resolve import resolve


@pytest.fixture(scope="module")
def llama(fixture_model):
    return load_model(fixture_model("llama"))


def _res(tmp_path, body, model):
    p = tmp_path / "r.recipe"
    p.write_text('recipe "t"\nbase Q4_K_M\n' + body)
    return resolve(load(str(p)).recipe, model)


def test_no_budget_starts_at_the_stock_mix_within_ceiling(llama, tmp_path):
    """Q4_K_M's own mix gives blk.1.attn_v Q6_K (a use_more_bits layer) and blk.0.attn_v Q4_K; the
    ceiling cuts the first to Q5_K and leaves the second alone."""
    plan = _res(tmp_path, "ceiling attn_* Q5_K\n", llama).plan
    assert (plan.tensor("blk.1.attn_v.weight").type, plan.tensor("blk.1.attn_v.weight").reason) == ("Q5_K", "ceiling@3")
    assert (plan.tensor("blk.0.attn_v.weight").type, plan.tensor("blk.0.attn_v.weight").reason) == ("Q4_K", "stock:Q4_K_M")
    assert (plan.tensor("output.weight").type, plan.tensor("output.weight").reason) == ("Q6_K", "stock:Q4_K_M")
    assert plan.totals.solver == "none"


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


def test_tie_auto_ties_tensors_that_read_the_same_input(llama, fixture_model, tmp_path):
    from recipec.fixtures import write_imatrix
    from recipec.loaders import load_imatrix

    path = write_imatrix("llama", fixture_model("llama"), tmp_path / "i.gguf")
    imatrix = load_imatrix(path, llama)
    p = tmp_path / "r.recipe"
    for auto in (False, True):
        p.write_text('recipe "t"\nbase Q4_K_M\nbudget 5 bpw\n' + ("tie auto\n" if auto else ""))
        res = resolve(load(str(p)).recipe, llama, imatrix)
        groups = {n: i for i, g in enumerate(res.plan.problem.groups) for n in g.tensors}
        qkv = {groups.get(f"blk.1.{r}.weight") for r in ("attn_q", "attn_k", "attn_v")}
        gate_up = {groups.get(f"blk.1.{r}.weight") for r in ("ffn_gate", "ffn_up")}
        if auto:  # equal in_sum2 fingerprints: one decision per layer for q/k/v and for gate/up
            assert len(qkv) == 1 and len(gate_up) == 1 and qkv != gate_up
            assert len({res.plan.tensor(f"blk.1.{r}.weight").type for r in ("attn_q", "attn_k", "attn_v")}) == 1
            assert groups.get("blk.1.attn_output.weight") not in qkv
        else:
            assert len(qkv) == 3


def test_solver_greedy_is_recorded_and_never_beats_optimal(llama, tmp_path):
    opt = _res(tmp_path, "budget 5 bpw\nsolver optimal\n", llama).plan.totals
    gr = _res(tmp_path, "budget 5 bpw\nsolver greedy\n", llama).plan.totals
    assert (opt.solver, gr.solver) == ("optimal", "greedy")
    assert gr.counted_bytes <= gr.budget_bytes and opt.counted_bytes <= opt.budget_bytes
    assert opt.objective <= gr.objective * (1 + 1e-12)
    assert gr.bound <= gr.objective
