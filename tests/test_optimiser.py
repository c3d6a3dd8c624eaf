"""The optimiser on the example 35B manifest: budgets from floors' to ceilings' size."""

from pathlib import Path

import pytest

from recipec import solve
from recipec.loaders import load_imatrix, load_model
from recipec.recipe import load
from recipec.resolve import resolve


EX = Path(__file__).parent.parent / "examples"


@pytest.fixture(scope="module")
def problem():
    loaded = load(str(EX / "qwen35moe-optimal-19.4gib.recipe"))
    model = load_model(EX / "qwen3.5-35b-a3b.manifest.json")
    res = resolve(loaded.recipe, model, load_imatrix(EX / "qwen3.5-35b-a3b.imatrix.json", model))
    return [[solve.Option(o.bytes, o.cost) for o in g.options] for g in res.plan.problem.groups]


def test_twenty_budgets_never_worse_than_greedy(problem):
    lo = sum(min(o.bytes for o in g) for g in problem)
    hi = sum(max(o.bytes for o in g) for g in problem)
    for k in range(20):
        cap = lo + (hi - lo) * k // 19
        opt, gr = solve.optimal(problem, cap), solve.greedy(problem, cap)
        assert opt.bytes <= cap and gr.bytes <= cap
        assert opt.objective <= gr.objective * (1 + 1e-12)
        assert opt.bound <= opt.objective * (1 + 1e-12)
        assert opt.gap <= 0.001, (k, opt.gap)


def test_example_plan_lands_just_below_its_size_budget():
    loaded = load(str(EX / "qwen35moe-optimal-19.4gib.recipe"))
    model = load_model(EX / "qwen3.5-35b-a3b.manifest.json")
    t = resolve(loaded.recipe, model, load_imatrix(EX / "qwen3.5-35b-a3b.imatrix.json", model)).plan.totals
    assert t.budget_bytes == round(19.4 * (1 << 30))
    assert t.budget_bytes * 0.995 <= t.counted_bytes <= t.budget_bytes
    assert t.gap <= 0.001
