"""Solvers for the multiple-choice knapsack: choose one option per group, bytes within capacity.

Objective: minimise the sum of the chosen options' costs (weight x error). Two solvers:

* greedy: the ASHQ1 utility queue. Every group starts at its smallest option; repeatedly take
  the upgrade with the best cost reduction per extra byte that still fits; then a pass that takes
  upgrades costing no extra bytes.
* optimal: branch and bound on the LP relaxation. Each group's options are reduced to their
  lower convex hull (bytes -> cost); the LP optimum takes hull segments by slope until the
  capacity is used (at most one group fractional) and is a proven lower bound. The search is
  exact when it finishes within its node limit; otherwise the best solution found is returned
  with the bound and the relative gap. Large problems (many groups) then run scaled dynamic
  programmes over bytes: rounding every option's bytes up gives feasible solutions, rounding
  them down gives a proven lower bound; the resolution grows until the gap is at most 0.1 %.

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
    """The ASHQ1-style utility queue (a heap: an upgrade that no longer fits never fits again)."""
    import heapq

    choice = [_smallest(opts) for opts in groups]
    used = sum(groups[g][i].bytes for g, i in enumerate(choice))
    if used > capacity:
        raise Infeasible(used)
    heap: list = []

    def push(g: int) -> None:
        cur = groups[g][choice[g]]
        for i, o in enumerate(groups[g]):
            extra, gain = o.bytes - cur.bytes, cur.cost - o.cost
            if extra > 0 and gain > 0 and used + extra <= capacity:
                heapq.heappush(heap, (-gain / extra, g, i, choice[g]))

    for g in range(len(groups)):
        push(g)
    while heap:
        _, g, i, was = heapq.heappop(heap)
        extra = groups[g][i].bytes - groups[g][was].bytes
        if choice[g] != was or used + extra > capacity:
            continue
        used += extra
        choice[g] = i
        push(g)
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
    """Branch and bound with LP bounds; starts from the better of greedy and LP rounding.

    Small problems search with the LP bound at every node; large ones with the Lagrangian
    reduction at the LP's break slope (see _optimal_large).
    """
    if len(groups) > SMALL:
        return _tighten(groups, capacity, _optimal_large(groups, capacity, node_limit))
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


def lower_bound(groups: list[list[Option]], capacity: int) -> float:
    """The LP relaxation's optimum: a proven lower bound on any solution's objective."""
    return _lp_bound(groups, [_hull(opts) for opts in groups], {}, capacity)


BEST_FIRST_NODES = 40  # LP nodes spent tightening the bound of a large problem
MAX_FREE = 400  # free groups beyond which the depth-first search is skipped
SMALL = 16  # groups up to which every node computes a full LP bound


def _fill(groups, choice: list[int], used: int, capacity: int) -> int:
    """Improve CHOICE in place: repeatedly take the best cost-per-byte change that fits."""
    import heapq

    def push(heap, g):
        cur = groups[g][choice[g]]
        for i, o in enumerate(groups[g]):
            extra, gain = o.bytes - cur.bytes, cur.cost - o.cost
            if gain > 0 and used + extra <= capacity:
                key = -gain / extra if extra > 0 else -INF
                heapq.heappush(heap, (key, g, i, choice[g]))

    heap: list = []
    for g in range(len(groups)):
        push(heap, g)
    while heap:
        _, g, i, was = heapq.heappop(heap)
        if choice[g] != was:
            continue
        extra = groups[g][i].bytes - groups[g][was].bytes
        if used + extra > capacity:
            continue
        used += extra
        choice[g] = i
        push(heap, g)
    return used


def _lp_break(groups: list[list[Option]], hulls: list[list[int]], capacity: int):
    """Walk the hull segments by falling slope until the capacity binds.

    Returns (segments, positions on each hull, bytes used, the LP optimum, lam = the break slope;
    0 when every group reached its cheapest-cost hull point within the capacity).
    """
    segs = []
    for g, h in enumerate(hulls):
        for k in range(len(h) - 1):
            a, b = groups[g][h[k]], groups[g][h[k + 1]]
            segs.append(((a.cost - b.cost) / (b.bytes - a.bytes), g, k))
    segs.sort(key=lambda s: (-s[0], s[1], s[2]))
    pos = [0] * len(groups)
    used = sum(groups[g][h[0]].bytes for g, h in enumerate(hulls))
    lp = sum(groups[g][h[0]].cost for g, h in enumerate(hulls))
    lam = 0.0
    for slope, g, k in segs:
        if pos[g] != k:
            continue
        a, b = groups[g][hulls[g][k]], groups[g][hulls[g][k + 1]]
        extra = b.bytes - a.bytes
        if used + extra > capacity:
            lam = slope
            lp -= (a.cost - b.cost) * (capacity - used) / extra
            break
        used += extra
        lp -= a.cost - b.cost
        pos[g] = k + 1
    return segs, pos, used, lp, lam


def _prune_by_reduced_cost(groups: list[list[Option]], red: list[list[float]], lb: float, best_cost: float,
            best_choice: list[int], eps: float):
    """Remove every option whose reduced cost alone lifts the bound past the incumbent.

    Returns (free groups with their kept options sorted by reduced cost, the fixed groups'
    bytes and cost, the choice of the fixed groups).
    """
    free = []
    fixed_bytes = fixed_cost = 0
    base_choice = [0] * len(groups)
    for g, opts in enumerate(groups):
        keep = [i for i in range(len(opts)) if lb + red[g][i] < best_cost - eps] or [best_choice[g]]
        if len(keep) == 1:
            base_choice[g] = keep[0]
            fixed_bytes += opts[keep[0]].bytes
            fixed_cost += opts[keep[0]].cost
        else:
            keep.sort(key=lambda i: (red[g][i], opts[i].bytes, i))
            free.append((g, keep))
    free.sort(key=lambda f: (-(max(groups[f[0]][i].bytes for i in f[1]) - min(groups[f[0]][i].bytes for i in f[1])), f[0]))
    return free, fixed_bytes, fixed_cost, base_choice


def _optimal_large(groups: list[list[Option]], capacity: int, node_limit: int) -> Solution:
    """Lagrangian reduction + depth-first search, exact when the search finishes.

    lam is the LP's break slope; L = sum_g min_o (c + lam b) - lam C is the LP bound. An option's
    reduced cost r = (c + lam b) - min over its group; any solution costs at least L + sum r, so an
    option with L + r >= incumbent can never improve and is removed; groups left with one option
    are fixed, and the search runs over the rest with the bound L + sum of chosen r.
    """
    if any(not g for g in groups):
        raise Infeasible(0)
    smallest = [_smallest(opts) for opts in groups]
    if sum(groups[g][i].bytes for g, i in enumerate(smallest)) > capacity:
        raise Infeasible(sum(groups[g][i].bytes for g, i in enumerate(smallest)))
    hulls = [_hull(opts) for opts in groups]
    segs, pos, used, lp, lam = _lp_break(groups, hulls, capacity)
    choice = [hulls[g][pos[g]] for g in range(len(groups))]
    if lam == 0.0:  # everything reached its cheapest-cost hull point: that is optimal
        _fill(groups, choice, used, capacity)
        cost, size = _evaluate(groups, choice)
        return Solution(tuple(choice), cost, size, bound=cost, exact=True)
    _fill(groups, choice, used, capacity)
    start = greedy(groups, capacity)
    best_choice = list(choice)
    best_cost, _ = _evaluate(groups, best_choice)
    if start.objective < best_cost:
        best_cost, best_choice = start.objective, list(start.choice)
    red = []
    for opts in groups:
        vals = [o.cost + lam * o.bytes for o in opts]
        red.append([v - min(vals) for v in vals])
    lb = sum(min(o.cost + lam * o.bytes for o in opts) for opts in groups) - lam * capacity
    lb = max(lb, lp) if abs(lb - lp) <= 1e-9 * max(1.0, abs(lp)) else lb
    eps = 1e-12 * max(1.0, abs(best_cost))
    free, fixed_bytes, fixed_cost, base_choice = _prune_by_reduced_cost(groups, red, lb, best_cost, best_choice, eps)
    found, exhausted = _search(groups, capacity, free, red, lb, (best_cost, best_choice), base_choice,
                               fixed_bytes, fixed_cost, eps, node_limit)
    cost, size = _evaluate(groups, found)
    if exhausted:
        return Solution(tuple(found), cost, size, bound=cost, exact=True)
    return _best_first(groups, capacity, hulls, segs, found, min(lb, cost), node_limit)


def _search(groups, capacity, free, red, lb, incumbent, base_choice, fixed_bytes, fixed_cost, eps, node_limit):
    """Depth-first search over the FREE groups, bounded by LB + the chosen reduced costs.

    Returns (the best choice found, whether the search finished within NODE_LIMIT).
    """
    best_cost, best_choice = incumbent
    min_after = [0] * (len(free) + 1)
    for k in range(len(free) - 1, -1, -1):
        g, keep = free[k]
        min_after[k] = min_after[k + 1] + min(groups[g][i].bytes for i in keep)
    nodes = 0
    exhausted = True
    cur = list(base_choice)

    def dfs(k: int, used: int, cost: float, r: float) -> None:
        nonlocal best_cost, best_choice, nodes, exhausted
        if nodes >= node_limit:
            exhausted = False
            return
        nodes += 1
        if lb + r >= best_cost - eps:
            return
        if k == len(free):
            if cost < best_cost - eps:
                best_cost, best_choice = cost, list(cur)
            return
        g, keep = free[k]
        for i in keep:
            o = groups[g][i]
            if used + o.bytes + min_after[k + 1] > capacity:
                continue
            if lb + r + red[g][i] >= best_cost - eps:
                break  # keep is sorted by reduced cost
            cur[g] = i
            dfs(k + 1, used + o.bytes, cost + o.cost, r + red[g][i])

    if len(free) > MAX_FREE:  # too deep to search: keep the bound, report the gap
        exhausted = False
    elif fixed_bytes + min_after[0] <= capacity:
        dfs(0, fixed_bytes, fixed_cost, 0.0)
    return best_choice, exhausted


def _best_first(groups, capacity, hulls, segs, incumbent, root_bound, node_limit):
    """Best-first branch and bound on the LP's fractional group, to tighten bound and solution.

    Each node fixes some groups; its LP bound walks the pre-sorted hull segments of the others.
    The proven bound is the least bound among the nodes left open.
    """
    import heapq

    n = len(groups)
    best_choice = list(incumbent)
    best_cost, _ = _evaluate(groups, best_choice)
    min_bytes = [min(o.bytes for o in opts) for opts in groups]

    def lp(fixed: dict[int, int]):
        pos = [0] * n
        used, cost = 0, 0.0
        for g in range(n):
            o = groups[g][fixed[g]] if g in fixed else groups[g][hulls[g][0]]
            used += o.bytes
            cost += o.cost
        if used > capacity:
            return INF, None, None
        frac = None
        for slope, g, k in segs:
            if g in fixed or pos[g] != k:
                continue
            a, b = groups[g][hulls[g][k]], groups[g][hulls[g][k + 1]]
            extra = b.bytes - a.bytes
            if used + extra > capacity:
                cost -= (a.cost - b.cost) * (capacity - used) / extra
                frac = g
                break
            used += extra
            cost -= a.cost - b.cost
            pos[g] = k + 1
        choice = [fixed[g] if g in fixed else hulls[g][pos[g]] for g in range(n)]
        return cost, frac, (choice, used)

    heap = []
    counter = 0
    bound, frac, rounding = lp({})
    heapq.heappush(heap, (bound, counter, {}, frac, rounding))
    expanded = 0
    while heap and expanded < min(BEST_FIRST_NODES, node_limit):
        bound, _, fixed, frac, rounding = heapq.heappop(heap)
        if bound >= best_cost - 1e-12 * max(1.0, abs(best_cost)):
            heap.clear()
            break
        expanded += 1
        choice, used = rounding
        if expanded <= 3:
            used = _fill(groups, choice, used, capacity)
        c, _ = _evaluate(groups, choice)
        if c < best_cost:
            best_cost, best_choice = c, list(choice)
        if frac is None:  # the LP is integral: this node is solved
            continue
        spare = capacity - sum(groups[g][fixed[g]].bytes if g in fixed else min_bytes[g] for g in range(n))
        for i, o in enumerate(groups[frac]):
            if o.bytes - min_bytes[frac] > spare:
                continue
            child = dict(fixed)
            child[frac] = i
            b, f, r = lp(child)
            if b < best_cost:
                counter += 1
                heapq.heappush(heap, (b, counter, child, f, r))
    cost, size = _evaluate(groups, best_choice)
    if not heap:
        return Solution(tuple(best_choice), cost, size, bound=cost, exact=True)
    open_bound = min(h[0] for h in heap)
    return Solution(tuple(best_choice), cost, size, bound=min(max(root_bound, open_bound), cost), exact=False)


# ----------------------------------------------------------------------------- scaled DP

GAP_TARGET = 1e-3  # the large-problem path tightens until the proven gap is at most 0.1 %
DP_RESOLUTIONS = (1 << 16, 1 << 18)


def _scaled_dp(groups: list[list[Option]], capacity: int, resolution: int, round_up: bool):
    """Dynamic programme over bytes counted in units of about span/RESOLUTION.

    Each option's extra bytes above its group's smallest are rounded to whole units: rounded
    up (round_up=True) every solution found fits the real capacity (a feasible solution);
    rounded down every real solution stays feasible, so the optimum is a proven lower bound.
    Returns (objective of the scaled problem, choice or None).
    """
    import numpy as np

    base = [min(o.bytes for o in g) for g in groups]
    room = capacity - sum(base)
    span = sum(max(o.bytes for o in g) - b for g, b in zip(groups, base))
    room = min(room, span)
    if room < 0:
        raise Infeasible(sum(base))
    unit = max(1, -(-room // resolution))
    top = room // unit
    cur = np.zeros(top + 1)
    arg = np.zeros((len(groups), top + 1), dtype=np.uint8) if round_up else None
    for gi, (opts, b) in enumerate(zip(groups, base)):
        new = np.full(top + 1, INF)
        for i, o in enumerate(opts):
            w = -(-(o.bytes - b) // unit) if round_up else (o.bytes - b) // unit
            if w > top:
                continue
            cand = cur[: top + 1 - w] + o.cost
            tgt = new[w:]
            if round_up:
                np.putmask(arg[gi, w:], cand < tgt, i)
            np.minimum(tgt, cand, out=tgt)
        cur = new
    value = float(cur[top])
    if not round_up:
        return value, None
    choice, c = [0] * len(groups), top
    for gi in range(len(groups) - 1, -1, -1):
        i = int(arg[gi, c])
        choice[gi] = i
        c -= -(-(groups[gi][i].bytes - base[gi]) // unit)
    return value, choice


def _reduce(groups: list[list[Option]], capacity: int, incumbent: float) -> list[list[int]]:
    """Options that can still beat INCUMBENT, per group (Lagrangian reduction at the LP slope).

    With lam the LP's break slope and h_g = min_o (c_o + lam b_o), any solution costs at least
    L = sum_g h_g - lam C plus, for each group, its option's reduced cost c + lam b - h_g; an
    option whose reduced cost alone lifts L to the incumbent can be dropped.
    """
    segs, used = [], 0
    for opts in groups:
        h = _hull(opts)
        used += opts[h[0]].bytes
        for a, b in zip(h, h[1:]):
            segs.append(((opts[a].cost - opts[b].cost) / (opts[b].bytes - opts[a].bytes),
                         opts[b].bytes - opts[a].bytes))
    segs.sort(key=lambda x: -x[0])
    room, lam = capacity - used, 0.0
    for slope, extra in segs:
        if extra <= room:
            room -= extra
        else:
            lam = slope
            break
    mins = [min(o.cost + lam * o.bytes for o in opts) for opts in groups]
    low = sum(mins) - lam * capacity
    slack = incumbent - low + 1e-9 * max(1.0, abs(incumbent))
    return [[i for i, o in enumerate(opts) if o.cost + lam * o.bytes - m <= slack]
            for opts, m in zip(groups, mins)]


def _tighten(groups: list[list[Option]], capacity: int, sol: Solution) -> Solution:
    """Improve a large problem's solution and bound with scaled DPs of growing resolution.

    Before each DP the options that cannot beat the incumbent are removed (a proven
    reduction), so the DP spans fewer bytes and its units are finer.
    """
    best_choice, best_cost, bound = list(sol.choice), sol.objective, sol.bound
    for resolution in DP_RESOLUTIONS:
        if best_cost <= 0 or (best_cost - bound) / best_cost <= GAP_TARGET:
            break
        keep = _reduce(groups, capacity, best_cost)
        sub = [[groups[g][i] for i in k] for g, k in enumerate(keep)]
        low, _ = _scaled_dp(sub, capacity, resolution, round_up=False)
        bound = max(bound, min(low, best_cost))
        _, picked = _scaled_dp(sub, capacity, resolution, round_up=True)
        choice = [keep[g][i] for g, i in enumerate(picked)]
        used = sum(groups[g][i].bytes for g, i in enumerate(choice))
        _fill(groups, choice, used, capacity)
        cost, _ = _evaluate(groups, choice)
        if cost < best_cost - 1e-12 * abs(best_cost):
            best_cost, best_choice = cost, choice
    cost, size = _evaluate(groups, best_choice)
    exact = cost <= bound + 1e-12 * max(1.0, abs(cost))
    return Solution(tuple(best_choice), cost, size, bound=min(bound, cost), exact=exact)
