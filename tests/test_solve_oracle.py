"""The large-problem solver path (more than 16 groups) against an exact oracle written here.

Every real model has far more than 16 groups, so `optimal` takes its large path (LP bound,
Lagrangian reduction, dynamic programmes over the core under rising thresholds). The oracle is a
plain dynamic programme over integer bytes, independent of recipec.solve; option bytes are kept
small so it stays cheap. Two shapes: arbitrary groups, and layered models (every layer the same
roles, each role a ladder of types with bytes proportional to bits and an error falling
exponentially with them, importances varying by layer: many equal sizes and near-ties, the
structure of real problems). CI runs a modest number of examples under the deterministic
hypothesis profile; set RECIPEC_HEAVY=1 to run many more:

    RECIPEC_HEAVY=1 python -m pytest -q tests/test_solve_oracle.py
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from recipec.solve import Infeasible, Option, greedy, optimal

HEAVY = bool(os.environ.get("RECIPEC_HEAVY"))
EXAMPLES = 3000 if HEAVY else 120
LAYERED_EXAMPLES = 1500 if HEAVY else 50
TOL = 1e-9


def oracle(groups: list[list[Option]], capacity: int) -> float | None:
    """The exact optimum (min total cost with total bytes <= capacity), or None if infeasible."""
    top = min(capacity, sum(max(o.bytes for o in g) for g in groups))
    if top < 0:
        return None
    best = [0.0] + [math.inf] * top  # best[b]: least cost of the groups so far using exactly b bytes
    for opts in groups:
        new = [math.inf] * (top + 1)
        for o in opts:
            for b in range(top - o.bytes, -1, -1):
                if best[b] + o.cost < new[b + o.bytes]:
                    new[b + o.bytes] = best[b] + o.cost
        best = new
    value = min(best)
    return None if value == math.inf else value


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


costs = st.one_of(
    st.floats(0, 100, allow_nan=False, allow_infinity=False),
    st.integers(0, 8).map(float),  # small integers: many ties between options and between groups
)


@st.composite
def group(draw) -> list[Option]:
    n = draw(st.integers(2, 5))
    sizes = draw(st.lists(st.integers(1, 30), min_size=n, max_size=n))
    values = draw(st.lists(costs, min_size=n, max_size=n))
    if draw(st.booleans()):  # the realistic shape: more bytes, less error
        sizes, values = sorted(sizes), sorted(values, reverse=True)
    # a large common cost shrinks the relative gap below the 0.1 % target before the scaled DPs
    # run, so inexact answers (and their bounds) are checked too
    offset = draw(st.sampled_from([0.0, 0.0, 1000.0]))
    return [Option(b, c + offset) for b, c in zip(sizes, values)]


@st.composite
def problems(draw):
    groups = draw(st.lists(group(), min_size=17, max_size=40))
    lo = sum(min(o.bytes for o in g) for g in groups)
    hi = sum(max(o.bytes for o in g) for g in groups)
    kind = draw(st.sampled_from(("some", "some", "some", "some", "none", "all")))
    if kind == "none":  # even the smallest options do not fit
        capacity = draw(st.integers(max(0, lo - 20), lo - 1))
    elif kind == "all":  # everything fits
        capacity = draw(st.integers(hi, hi + 50))
    else:  # the interesting range
        capacity = draw(st.integers(lo, hi))
    node_limit = draw(st.sampled_from([1, 10, 200, 20000]))
    return groups, capacity, node_limit


def check_solution(sol, groups, capacity, optimum) -> None:
    """Feasible, and its reported totals are those of its choice."""
    assert len(sol.choice) == len(groups)
    assert all(0 <= i < len(g) for i, g in zip(sol.choice, groups))
    chosen = [g[i] for i, g in zip(sol.choice, groups)]
    assert sol.bytes == sum(o.bytes for o in chosen) <= capacity
    assert close(sol.objective, sum(o.cost for o in chosen))
    assert sol.objective >= optimum - TOL * max(1.0, optimum)


@settings(max_examples=EXAMPLES)
@given(problems())
def test_large_path_against_exact_dp(problem):
    groups, capacity, node_limit = problem
    optimum = oracle(groups, capacity)
    if optimum is None:
        event("infeasible")
        with pytest.raises(Infeasible):
            optimal(groups, capacity, node_limit=node_limit)
        with pytest.raises(Infeasible):
            greedy(groups, capacity)
        return
    sol = optimal(groups, capacity, node_limit=node_limit)
    event("exact" if sol.exact else "within the gap target")
    check_solution(sol, groups, capacity, optimum)
    slack = TOL * max(1.0, optimum)
    assert sol.bound <= optimum + slack  # a proven lower bound
    assert sol.bound <= sol.objective + slack
    assert sol.gap >= 0
    if sol.exact or sol.gap == 0:
        assert close(sol.objective, optimum)
    # the documented 0.1 % gap target is always reached, whatever the node limit
    assert sol.gap <= 1e-3 + 1e-12
    assert sol.objective <= optimum * (1 + 1e-3) + slack

    g = greedy(groups, capacity)
    check_solution(g, groups, capacity, optimum)
    assert sol.objective <= g.objective + slack  # optimal starts from greedy's answer


def test_oracle_on_a_hand_solved_instance():
    # two groups of (bytes, cost): 3 bytes of room beyond the smallest options (1 + 1);
    # best is group 0 at 3 bytes (cost 1) + group 1 at 2 bytes (cost 4): 5 bytes, cost 5
    groups = [[Option(1, 10.0), Option(3, 1.0), Option(5, 0.0)], [Option(1, 6.0), Option(2, 4.0)]]
    assert oracle(groups, 5) == 5.0
    assert oracle(groups, 2) == 16.0
    assert oracle(groups, 7) == 4.0  # 5 + 2 bytes: 0 + 4
    assert oracle(groups, 1) is None


def test_deterministic_large_instance_is_exact():
    # 24 identical groups (more than 16: the large path), each 2 bytes at cost 3 or 5 bytes at
    # cost 1; capacity 24*2 + 5*3 = 63 leaves room for exactly 5 upgrades (3 extra bytes each):
    # cost 5*1 + 19*3 = 62
    groups = [[Option(2, 3.0), Option(5, 1.0)] for _ in range(24)]
    sol = optimal(groups, 63)
    assert (sol.objective, sol.bytes) == (62.0, 63)
    assert sol.exact and sol.bound == 62.0
    assert oracle(groups, 63) == 62.0


@st.composite
def layered(draw):
    """A layered model: LAYERS x ROLES groups, each a window of a shared ladder of types."""
    ladder = sorted(draw(st.lists(st.integers(2, 9), min_size=3, max_size=6, unique=True)))  # bits
    roles = draw(st.lists(st.tuples(st.integers(1, 4), st.floats(0.5, 50), st.integers(0, 2), st.integers(0, 2)),
                          min_size=2, max_size=5))  # (size, importance, types cut below, types cut above)
    layers = draw(st.integers(6, 14))
    spread = draw(st.sampled_from([0.0, 0.05, 0.5]))  # how much importances vary between layers
    groups = []
    for layer in range(layers):
        depth = 2.0 if layer == 0 else 1.0 + spread * ((layer * 7919) % 13) / 13
        for size, importance, low, high in roles:
            types = ladder[min(low, len(ladder) - 2): len(ladder) - min(high, len(ladder) - 2 - min(low, len(ladder) - 2))]
            groups.append([Option(size * bits, importance * depth * size * 2.0 ** (-bits)) for bits in types])
    lo = sum(min(o.bytes for o in g) for g in groups)
    hi = sum(max(o.bytes for o in g) for g in groups)
    capacity = draw(st.integers(lo, hi))
    return groups, capacity, draw(st.sampled_from([1, 20000]))


@settings(max_examples=LAYERED_EXAMPLES)
@given(layered())
def test_layered_models_against_exact_dp(problem):
    groups, capacity, node_limit = problem
    if len(groups) <= 16:
        event("small path")
    optimum = oracle(groups, capacity)
    sol = optimal(groups, capacity, node_limit=node_limit)
    event("exact" if sol.exact else "within the gap target")
    check_solution(sol, groups, capacity, optimum)
    slack = TOL * max(1.0, optimum)
    assert sol.bound <= optimum + slack <= sol.objective + 2 * slack
    assert sol.objective <= optimum * (1 + 1e-3) + slack
    if sol.exact:
        assert close(sol.objective, optimum)
    if node_limit == 20000:  # the default effort: exact on problems this small
        assert sol.exact and close(sol.objective, optimum)
    assert sol.objective <= greedy(groups, capacity).objective + slack
