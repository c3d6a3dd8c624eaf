"""Solvers for the multiple-choice knapsack: choose one option per group, bytes within capacity.

Objective: minimise the sum of the chosen options' costs (weight x error). Two solvers:

* greedy: the ASHQ1 utility queue. Every group starts at its smallest option; repeatedly take
  the upgrade with the best cost reduction per extra byte that still fits; then a pass that takes
  upgrades costing no extra bytes.
* optimal: branch and bound on the LP relaxation. Each group's options are reduced to their
  lower convex hull (bytes -> cost); the LP optimum takes hull segments by slope until the
  capacity is used (at most one group fractional) and is a proven lower bound. The search is
  exact when it finishes within its node limit; otherwise the best solution found is returned
  with the bound and the relative gap.

Both are deterministic: ties are broken by group order, then option order.
"""

from __future__ import annotations

from dataclasses import dataclass

INF = float("inf")


@dataclass(frozen=True)
class Option:
    bytes: int
    cost: float


@dataclass(frozen=True)
class Solution:
    choice: tuple[int, ...]  # index into each group's options
    objective: float
    bytes: int
    bound: float  # a proven lower bound on the optimal objective
    exact: bool  # True when the objective is proven optimal

    @property
    def gap(self) -> float:
        """Relative gap between objective and bound (0 when optimal)."""
        if self.exact or self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / self.objective)


class Infeasible(Exception):
    """Even the smallest option of every group exceeds the capacity."""


def _smallest(options: list[Option]) -> int:
    return min(range(len(options)), key=lambda i: (options[i].bytes, options[i].cost, i))


def _evaluate(groups, choice) -> tuple[float, int]:
    cost = sum(groups[g][i].cost for g, i in enumerate(choice))
    size = sum(groups[g][i].bytes for g, i in enumerate(choice))
    return cost, size


def greedy(groups: list[list[Option]], capacity: int) -> Solution:
    """The ASHQ1-style utility queue."""
    choice = [_smallest(opts) for opts in groups]
    used = sum(groups[g][i].bytes for g, i in enumerate(choice))
    if used > capacity:
        raise Infeasible(used)
    while True:
        best = None  # (ratio, g, i)
        for g, opts in enumerate(groups):
            cur = opts[choice[g]]
            for i, o in enumerate(opts):
                extra, gain = o.bytes - cur.bytes, cur.cost - o.cost
                if extra <= 0 or gain <= 0 or used + extra > capacity:
                    continue
                ratio = gain / extra
                if best is None or ratio > best[0]:
                    best = (ratio, g, i)
        if best is None:
            break
        _, g, i = best
        used += groups[g][i].bytes - groups[g][choice[g]].bytes
        choice[g] = i
    for g, opts in enumerate(groups):  # upgrades that cost no extra bytes
        cur = opts[choice[g]]
        for i, o in enumerate(opts):
            if o.bytes <= cur.bytes and o.cost < cur.cost:
                used += o.bytes - cur.bytes
                choice[g], cur = i, o
    cost, size = _evaluate(groups, choice)
    return Solution(tuple(choice), cost, size, bound=-INF, exact=False)


def _hull(options: list[Option]) -> list[int]:
    """Indices of the lower convex hull of (bytes, cost), by increasing bytes, decreasing cost."""
    order = sorted(range(len(options)), key=lambda i: (options[i].bytes, options[i].cost, i))
    pts: list[int] = []
    for i in order:
        o = options[i]
        if pts and options[pts[-1]].bytes == o.bytes:
            continue  # same bytes, higher (or equal) cost
        if pts and o.cost >= options[pts[-1]].cost:
            continue  # more bytes, no better: never on the hull
        while len(pts) >= 2:
            a, b = options[pts[-2]], options[pts[-1]]
            # b is above the segment a -> o: drop it
            if (b.cost - a.cost) * (o.bytes - a.bytes) >= (o.cost - a.cost) * (b.bytes - a.bytes):
                pts.pop()
            else:
                break
        pts.append(i)
    return pts


def _lp_bound(groups, hulls, fixed: dict[int, int], capacity: int) -> float:
    """The LP relaxation's optimum with some groups fixed (INF if infeasible)."""
    cost, used, segments = 0.0, 0, []
    for g, opts in enumerate(groups):
        if g in fixed:
            o = opts[fixed[g]]
            cost += o.cost
            used += o.bytes
            continue
        h = hulls[g]
        base = opts[h[0]]
        cost += base.cost
        used += base.bytes
        for a, b in zip(h, h[1:]):
            oa, ob = opts[a], opts[b]
            segments.append(((oa.cost - ob.cost) / (ob.bytes - oa.bytes), ob.bytes - oa.bytes, oa.cost - ob.cost))
    if used > capacity:
        return INF
    room = capacity - used
    segments.sort(key=lambda s: -s[0])
    for slope, extra, gain in segments:
        if room <= 0:
            break
        take = min(1.0, room / extra)
        cost -= gain * take
        room -= extra * take
    return cost


def optimal(groups: list[list[Option]], capacity: int, node_limit: int = 20000) -> Solution:
    """Branch and bound with LP bounds; starts from the better of greedy and LP rounding."""
    start = greedy(groups, capacity)
    hulls = [_hull(opts) for opts in groups]
    root = _lp_bound(groups, hulls, {}, capacity)
    best_cost, best_choice = start.objective, list(start.choice)
    # branch on groups with the most spread first (largest cost range): they decide the most
    order = sorted(range(len(groups)), key=lambda g: (-(max(o.cost for o in groups[g]) - min(o.cost for o in groups[g])), g))
    min_bytes_after = [0] * (len(order) + 1)
    for k in range(len(order) - 1, -1, -1):
        g = order[k]
        min_bytes_after[k] = min_bytes_after[k + 1] + min(o.bytes for o in groups[g])
    nodes = 0
    exhausted = True
    fixed: dict[int, int] = {}

    def dfs(k: int, used: int) -> None:
        nonlocal best_cost, best_choice, nodes, exhausted
        if nodes >= node_limit:
            exhausted = False
            return
        nodes += 1
        bound = _lp_bound(groups, hulls, fixed, capacity)
        if bound >= best_cost - 1e-12 * max(1.0, abs(best_cost)):
            return
        if k == len(order):
            best_cost = bound
            best_choice = [fixed[g] for g in range(len(groups))]
            return
        g = order[k]
        opts = groups[g]
        cands = sorted(range(len(opts)), key=lambda i: (opts[i].cost, opts[i].bytes, i))
        for i in cands:
            if used + opts[i].bytes + min_bytes_after[k + 1] > capacity:
                continue
            fixed[g] = i
            dfs(k + 1, used + opts[i].bytes)
            del fixed[g]

    dfs(0, 0)
    cost, size = _evaluate(groups, best_choice)
    exact = exhausted
    bound = cost if exact else min(root, cost)
    return Solution(tuple(best_choice), cost, size, bound=bound, exact=exact)
