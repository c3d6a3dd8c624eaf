"""Solvers for the multiple-choice knapsack: choose one option per group, bytes within capacity.

Objective: minimise the sum of the chosen options' costs (weight x error). Two solvers:

* greedy: the ASHQ1 utility queue. Every group starts at its smallest option; repeatedly take
  the upgrade with the best cost reduction per extra byte that still fits; then a pass that takes
  upgrades costing no extra bytes.
* optimal: each group's options are reduced to their lower convex hull (bytes -> cost); the LP
  relaxation takes hull segments by falling slope until the capacity binds (one group
  fractional) and is a proven lower bound; its rounding (filled) or greedy's answer, whichever
  is cheaper, is the incumbent. Then dynamic programmes over the core: for a threshold t,
  Lagrangian reduced costs at the LP's break slope remove every option that cannot be part of
  a solution below t, and a DP over the groups left with a choice keeps the Pareto states
  (bytes, cost) whose LP bound over the remaining groups is below t. A solution found is
  optimal; none found proves t a lower bound. The thresholds rise from the LP bound by doubling
  steps to incumbent x (1 - 0.1 %) (the gap target), then within a work budget on to
  incumbent x (1 - 0.001 %) and, when the core is small, to the incumbent (exactness); most
  passes past the target find the optimum on the way. Memory is bounded: a pass that would keep too many states gives up, and the
  bound reported is always the one proven.

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


def optimal(groups: list[list[Option]], capacity: int, node_limit: int = 20000) -> Solution:
    """The least-cost choice within the capacity: proven within GAP_TARGET, usually exact.

    NODE_LIMIT bounds the work spent beyond the gap target (NODE_LIMIT x STATES_PER_NODE DP
    states); the Solution's bound is what was proven either way.
    """
    return _optimal(groups, capacity, node_limit)


def lower_bound(groups: list[list[Option]], capacity: int) -> float:
    """The LP relaxation's optimum: a proven lower bound on any solution's objective (INF if none fits)."""
    hulls = [_hull(opts) for opts in groups]
    if sum(groups[g][h[0]].bytes for g, h in enumerate(hulls)) > capacity:
        return INF
    return _lp_break(groups, hulls, capacity)[3]


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


# ----------------------------------------------------------------------------- the core DP

GAP_TARGET = 1e-3  # the proven gap every plan reaches (0.1 %), memory permitting
EXACT = 1e-9  # relative difference below which objective and bound count as equal
FINE_GAP = 1e-5  # beyond the target, passes aim at this gap (0.001 %) within a work budget...
FINE_CORE = 256  # ...and on to exactness only over cores of at most this many groups
FIRST_STEP = 32  # the first pass looks GAP_TARGET / FIRST_STEP x incumbent above the LP bound
MAX_TOTAL_STATES = 1 << 23  # states one DP pass may remember (memory bound: about 16 bytes each)
STEP_WORK = 256  # the work of one DP step (one group), in states: its fixed cost
STATES_PER_NODE = 25  # DP work (states) per unit of node_limit spent beyond the gap target


def _incumbent(groups: list[list[Option]], capacity: int, hulls, pos: list[int], used: int):
    """The better of the LP's rounding (filled) and greedy: (choice, cost)."""
    choice = [hulls[g][pos[g]] for g in range(len(groups))]
    _fill(groups, choice, used, capacity)
    cost, _ = _evaluate(groups, choice)
    start = greedy(groups, capacity)
    if start.objective < cost:
        return list(start.choice), start.objective
    return choice, cost


def _keep(groups: list[list[Option]], lam: float, capacity: int, below: float, incumbent: list[int]) -> list[list[int]]:
    """Per group, the options that can be part of a solution costing less than BELOW.

    With h_g = min_o (c_o + lam b_o), every solution within the capacity costs at least
    L = sum_g h_g - lam C plus, per group, its option's reduced cost c + lam b - h_g (at the LP's
    break slope L is the LP optimum), so an option whose reduced cost alone lifts L to BELOW is
    out. A group left with nothing keeps its incumbent option (no solution costs less than
    BELOW then, which the DP finds).
    """
    vals = [[o.cost + lam * o.bytes for o in opts] for opts in groups]
    mins = [min(v) for v in vals]
    low = sum(mins) - lam * capacity
    return [[i for i, x in enumerate(v) if low + (x - h) < below] or [incumbent[g]]
            for g, (v, h) in enumerate(zip(vals, mins))]


def _core_segments(groups, core: list[int], keep: list[list[int]]):
    """The hull segments of the core groups' kept options, by falling slope, as numpy arrays.

    Returns (bytes, gains, position in CORE of each segment's group, base bytes and base cost
    of core[k:] at their hulls' first points for every k).
    """
    import numpy as np

    sb, sg, sk, slope = [], [], [], []
    base_b = np.zeros(len(core) + 1, dtype=np.int64)
    base_c = np.zeros(len(core) + 1)
    for k in range(len(core) - 1, -1, -1):
        sub = [groups[core[k]][i] for i in keep[core[k]]]
        h = _hull(sub)
        base_b[k] = base_b[k + 1] + sub[h[0]].bytes
        base_c[k] = base_c[k + 1] + sub[h[0]].cost
        for a, b in zip(h, h[1:]):
            extra, gain = sub[b].bytes - sub[a].bytes, sub[a].cost - sub[b].cost
            sb.append(extra)
            sg.append(gain)
            sk.append(k)
            slope.append(gain / extra)
    order = sorted(range(len(sb)), key=lambda s: (-slope[s], sk[s], s))
    pick = np.array(order, dtype=np.int64)
    return (np.array(sb, dtype=np.int64)[pick] if sb else np.zeros(0, dtype=np.int64),
            np.array(sg, dtype=float)[pick] if sg else np.zeros(0), np.array(sk, dtype=np.int64)[pick]
            if sk else np.zeros(0, dtype=np.int64), base_b, base_c)


def _rest_bound(room, seg_bytes, seg_gains):
    """The LP gain of segments (by falling slope) within ROOM bytes, for an array of rooms >= 0.

    SEG_BYTES and SEG_GAINS end with a sentinel segment (gain 0) larger than any room.
    """
    import numpy as np

    cb = np.cumsum(seg_bytes)
    j = np.searchsorted(cb, room, side="right")  # segments taken whole
    cb -= seg_bytes  # now: bytes before each segment
    cg = np.cumsum(seg_gains) - seg_gains
    return cg[j] + seg_gains[j] * ((room - cb[j]) / seg_bytes[j])


def _dp_pass(groups, capacity: int, keep: list[list[int]], below: float, budget: int):
    """Exact search for a solution costing less than BELOW over the kept options.

    A dynamic programme over the groups with more than one kept option (the core), keeping
    only Pareto states (bytes, cost) whose LP bound over the groups still to come stays below
    BELOW. Returns (choice or None, work: states kept + STEP_WORK per group): the choice is
    optimal among solutions below BELOW and None proves there is none, unless the work exceeded
    BUDGET (the pass gave up).
    """
    import numpy as np

    core = sorted((g for g in range(len(groups)) if len(keep[g]) > 1),
                  key=lambda g: (-(max(groups[g][i].bytes for i in keep[g]) -
                                   min(groups[g][i].bytes for i in keep[g])), g))
    fixed = [g for g in range(len(groups)) if len(keep[g]) == 1]
    sb, sg, sk, base_b, base_c = _core_segments(groups, core, keep)
    sentinel = capacity + 1 + sum(max(o.bytes for o in opts) for opts in groups)
    sb, sg, sk = np.append(sb, sentinel), np.append(sg, 0.0), np.append(sk, len(core))
    states_b = np.array([sum(groups[g][keep[g][0]].bytes for g in fixed)], dtype=np.int64)
    states_c = np.array([sum(groups[g][keep[g][0]].cost for g in fixed)])
    limit = below + 1e-12 * max(1.0, abs(below))
    steps, total = [], 0
    for k, g in enumerate(core):
        opts = [groups[g][i] for i in keep[g]]
        nb = (np.array([o.bytes for o in opts], dtype=np.int64)[:, None] + states_b).ravel()
        nc = (np.array([o.cost for o in opts])[:, None] + states_c).ravel()
        rest = sk > k
        sb, sg, sk = sb[rest], sg[rest], sk[rest]
        room = (capacity - base_b[k + 1]) - nb
        ok = np.flatnonzero(room >= 0)
        ok = ok[nc[ok] + base_c[k + 1] - _rest_bound(room[ok], sb, sg) < limit]
        order = ok[np.lexsort((nc[ok], nb[ok]))]  # by bytes, then cost
        cost = nc[order]
        pareto = np.ones(len(order), dtype=bool)  # cheaper than every state with fewer bytes
        pareto[1:] = cost[1:] < np.minimum.accumulate(cost)[:-1]
        idx = order[pareto]
        steps.append((idx, len(states_b)))
        states_b, states_c = nb[idx], nc[idx]
        total += len(idx) + STEP_WORK
        if total > budget or not len(idx):
            return None, total
    fits = np.flatnonzero((states_b <= capacity) & (states_c < limit))
    if not len(fits):
        return None, total
    s = int(fits[np.argmin(states_c[fits])])
    choice = [keep[g][0] for g in range(len(groups))]
    for k in range(len(core) - 1, -1, -1):
        idx, n = steps[k]
        opt, s = divmod(int(idx[s]), n)
        choice[core[k]] = keep[core[k]][opt]
    return choice, total


def _optimal(groups: list[list[Option]], capacity: int, node_limit: int) -> Solution:
    """LP bound, incumbent, then core DPs under rising thresholds: the gap target, then exactness.

    Each pass asks the DP for a solution below a threshold t (options that cannot beat t
    removed first): one found is optimal; none found proves t a lower bound. The thresholds
    climb from the LP bound by doubling steps, first up to incumbent x (1 - GAP_TARGET), where a
    failed pass proves the target (these passes are bounded by memory only), then on to
    incumbent x (1 - FINE_GAP) within a further budget of NODE_LIMIT x STATES_PER_NODE states,
    and on to the incumbent itself (exactness) while the core stays small.
    """
    if any(not g for g in groups):
        raise Infeasible(0)
    floor = sum(min(o.bytes for o in opts) for opts in groups)
    if floor > capacity:
        raise Infeasible(floor)
    hulls = [_hull(opts) for opts in groups]
    _, pos, used, lp, lam = _lp_break(groups, hulls, capacity)
    choice, best = _incumbent(groups, capacity, hulls, pos, used)
    low = best if lam == 0.0 else lp  # lam 0: every group at its cheapest-cost hull point
    step = GAP_TARGET * abs(best) / FIRST_STEP
    # each a hair inside its gap, so that the gap computed from the bound does not round above it
    must, fine, aim = (best - gap * (1 - 1e-6) * abs(best) for gap in (GAP_TARGET, FINE_GAP, EXACT))
    extra = max(0, node_limit) * STATES_PER_NODE
    while low < aim and step > 0:
        below = min(lp + step, must if low < must else aim)
        budget = MAX_TOTAL_STATES if below <= must else min(extra, MAX_TOTAL_STATES)
        keep = _keep(groups, lam, capacity, below, choice)
        core = sum(len(k) > 1 for k in keep)
        if STEP_WORK * core > budget or (low >= fine and core > FINE_CORE):
            break  # past the target: not a pass that cannot finish, nor a large one past FINE_GAP
        found, spent = _dp_pass(groups, capacity, keep, below, budget)
        if below > must:
            extra -= spent
        if spent > budget:  # the pass gave up: what is proven stays proven
            break
        if found is not None:
            cost, size = _evaluate(groups, found)
            if cost <= best:
                return Solution(tuple(found), cost, size, bound=cost, exact=True)
            break  # rounding noise: keep the incumbent
        low, step = below, 2 * step
    cost, size = _evaluate(groups, choice)
    exact = low >= cost - EXACT * max(1.0, abs(cost))
    return Solution(tuple(choice), cost, size, bound=min(low, cost), exact=exact)
