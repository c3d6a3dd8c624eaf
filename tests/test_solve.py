"""The solvers: optimal equals brute force on small problems and is never worse than greedy."""

import bisect
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipec.solve import Infeasible, Option, greedy, optimal


def _all(groups):
    """Every combination of one option per group, as (bytes, cost)."""
    out = []
    for choice in itertools.product(*[range(len(g)) for g in groups]):
        out.append((sum(groups[k][i].bytes for k, i in enumerate(choice)),
                    sum(groups[k][i].cost for k, i in enumerate(choice))))
    return out


def brute(groups, capacity):
    """Exhaustive search, met in the middle: every combination of each half, then every pair."""
    half = len(groups) // 2
    left, right = _all(groups[:half]), sorted(_all(groups[half:]))
    best_prefix, best = [], float("inf")  # cheapest right-half cost among sizes <= right[i].bytes
    for size, cost in right:
        best = min(best, cost)
        best_prefix.append(best)
    sizes = [size for size, _ in right]
    result = None
    for size, cost in left:
        k = bisect.bisect_right(sizes, capacity - size)
        if k:
            total = cost + best_prefix[k - 1]
            result = total if result is None else min(result, total)
    return result


option = st.builds(Option, st.integers(1, 60), st.floats(0, 100, allow_nan=False))


@st.composite
def problems(draw):
    groups = draw(st.lists(st.lists(option, min_size=1, max_size=6), min_size=1, max_size=7))
    lo = sum(min(o.bytes for o in g) for g in groups)
    hi = sum(max(o.bytes for o in g) for g in groups)
    return groups, draw(st.integers(lo, hi))


@settings(max_examples=400)
@given(problems())
def test_optimal_equals_brute_force(problem):
    groups, capacity = problem
    sol = optimal(groups, capacity)
    assert sol.exact
    assert sol.bytes <= capacity
    assert sol.objective == pytest.approx(brute(groups, capacity), abs=1e-9)
    g = greedy(groups, capacity)
    assert g.bytes <= capacity
    assert sol.objective <= g.objective + 1e-9


def test_twelve_groups_six_options():
    import random
    rng = random.Random(7)
    for _ in range(5):
        groups = [[Option(rng.randint(1, 50), rng.uniform(0, 10)) for _ in range(6)] for _ in range(12)]
        lo = sum(min(o.bytes for o in g) for g in groups)
        hi = sum(max(o.bytes for o in g) for g in groups)
        cap = (lo + hi) // 2
        sol = optimal(groups, cap)
        assert sol.objective == pytest.approx(brute(groups, cap))


def test_infeasible_raises():
    with pytest.raises(Infeasible):
        greedy([[Option(10, 1.0)], [Option(10, 1.0)]], 15)


def test_gap_reported_when_node_limit_hit():
    import random
    rng = random.Random(1)
    groups = [[Option(b, 2.0 ** (-b / 8) * rng.uniform(1, 2)) for b in (20, 24, 28, 33, 40)] for _ in range(300)]
    cap = sum(30 for _ in groups)
    sol = optimal(groups, cap, node_limit=50)
    assert sol.bound <= sol.objective
    assert 0 <= sol.gap < 0.01
