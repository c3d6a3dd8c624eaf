"""Benchmark: `solver optimal` alone, over budgets from floors to ceilings, at growing model sizes.

Models: the example (Qwen3.5-35B-A3B manifest and imatrix summary, the example recipe; 753
tensors) and synthetic models of about 1,500 / 3,000 / 6,000 tensors (the example's trunk layers
repeated, tests/test_solve_models.py). For each: the solver's time at 21 budgets evenly spread
between every group at its floor and every group at its ceiling (plus the recipe's own budget,
21.833 GiB for the example), CPU and wall time, medians of REPEAT runs (the machine is shared:
CPU time is the steadier measure); the largest time; the largest proven gap;
whether each plan is no worse than greedy's; the solver's peak memory (tracemalloc) at the
slowest budget; and the largest gap against an independent
reference: a dynamic programme over bytes rounded down to UNIT (a proven lower bound on the
optimum, computed once for every budget). The reference costs seconds to minutes, so by default
it runs for the example and the 1,500-tensor model only (--reference all: every model, --reference
none: none). Last, the growth exponent of the solver's time in the number of tensors (least squares
on logs, for the largest and for the median time).

    python bench/bench_solve.py [--per-budget] [--reference example|all|none]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from recipec import solve  # noqa: E402
from tests.test_solve_models import SIZES, capture, floor_bound, floor_dp, sweep  # noqa: E402

REPEAT = 5
UNIT = 1 << 13  # bytes per cell of the reference DP


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log(y) against log(x), least squares."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def timed_solve(groups, capacity: int):
    """(solution, median CPU seconds, median wall seconds) of REPEAT runs."""
    cpu, wall, sol = [], [], None
    for _ in range(REPEAT):
        t, c = time.perf_counter(), time.process_time()
        sol = solve.optimal(groups, capacity)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return sol, statistics.median(cpu), statistics.median(wall)


def bench_model(name: str, n_trunk: int | None, with_reference: bool, per_budget: bool) -> dict:
    groups, capacity, res = capture(n_trunk=n_trunk)
    tensors = len(res.model.tensors)
    reference = None
    if with_reference:
        t = time.perf_counter()
        reference = floor_dp(groups, UNIT)
        ref_s = time.perf_counter() - t
    lo = sum(min(o.bytes for o in g) for g in groups)
    hi = sum(max(o.bytes for o in g) for g in groups)
    rows = []
    for cap in sweep(groups) + [capacity]:
        sol, secs, wall = timed_solve(groups, cap)
        greedy = solve.greedy(groups, cap).objective
        vs_ref = None if reference is None else max(0.0, sol.objective / floor_bound(reference, cap) - 1)
        rows.append((cap, secs, sol, greedy, vs_ref, wall))
        if per_budget:
            ref_text = "-" if vs_ref is None else f"{100 * vs_ref:.4f}"
            print(f"  {name:>8} {(cap - lo) / (hi - lo):5.3f}  {secs:6.3f} s cpu {wall:6.3f} s wall  proven gap {100 * sol.gap:.4f} %  "
                  f"exact {'yes' if sol.exact else 'no ':3}  vs greedy {100 * (sol.objective / greedy - 1):+.4f} %  "
                  f"vs reference {ref_text} %")
    slowest = max(rows, key=lambda r: r[1])[0]
    tracemalloc.start()
    solve.optimal(groups, slowest)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = dict(name=name, tensors=tensors, groups=len(groups), peak_mib=peak / 2 ** 20,
               max_s=max(r[1] for r in rows), median_s=statistics.median(r[1] for r in rows),
               max_wall=max(r[5] for r in rows),
               max_gap=max(r[2].gap for r in rows), exact=sum(r[2].exact for r in rows), budgets=len(rows),
               greedy_ok=all(r[2].objective <= r[3] * (1 + 1e-12) for r in rows),
               max_ref=None if reference is None else max(r[4] for r in rows),
               ref_s=ref_s if reference is not None else None)
    ref = "-" if out["max_ref"] is None else f"{100 * out['max_ref']:.4f} % (reference {out['ref_s']:.1f} s)"
    print(f"{name:>8}: {tensors:5d} tensors {len(groups):5d} groups  CPU max {out['max_s']:.3f} s median "
          f"{out['median_s']:.3f} s (wall max {out['max_wall']:.3f} s)  proven gap <= {100 * out['max_gap']:.4f} %  exact {out['exact']}/"
          f"{out['budgets']}  never worse than greedy: {'yes' if out['greedy_ok'] else 'NO'}  "
          f"vs reference <= {ref}  peak memory (slowest budget) {out['peak_mib']:.1f} MiB", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-budget", action="store_true", help="print every budget's row")
    ap.add_argument("--reference", choices=("example", "all", "none"), default="example")
    args = ap.parse_args()
    models = [("example", None)] + [(f"{n}", SIZES[n]) for n in sorted(SIZES)]
    results = []
    for k, (name, n_trunk) in enumerate(models):
        with_ref = args.reference == "all" or (args.reference == "example" and k <= 1)
        results.append(bench_model(name, n_trunk, with_ref, args.per_budget))
    xs = [r["tensors"] for r in results]
    print(f"growth exponent of CPU time in tensors: largest time {fit_exponent(xs, [r['max_s'] for r in results]):.2f}, "
          f"median time {fit_exponent(xs, [r['median_s'] for r in results]):.2f}")


if __name__ == "__main__":
    main()
