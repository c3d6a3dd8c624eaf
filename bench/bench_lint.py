"""Benchmark: `recipec lint` time against recipe length, for the shapes that were quadratic.

    pins        N `pin ROLE@LAYER TYPE` lines (distinct layers, several roles and types)
    duplicates  N copies of one `floor` line (each an L003 warning, each quoted in the report)
    plain       N mixed statements (floors, ceilings, pins with layer filters, ties, depth)

Each size runs the whole command (parse, validate, checks, text report) in this process and
prints seconds; the exponent is the least-squares slope of log(time) against log(N): 1 is linear,
2 quadratic. The target is 100,000 plain statements in under 10 s.
Run: python bench/bench_lint.py [--quick]
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipec.cli import run  # noqa: E402

ROLES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_down_exps", "ffn_up_exps", "ffn_gate_exps",
         "ssm_out", "ffn_down_shexp", "attn_qkv")
TYPES = ("Q4_K", "Q5_K", "Q6_K", "Q8_0", "IQ4_XS")
HEAD = ['recipe "bench"', "ladder  IQ4_XS Q4_K Q5_K Q6_K Q8_0"]


def pins(n: int) -> list[str]:
    return [f"pin     {ROLES[i % len(ROLES)]}@{i} {TYPES[i % len(TYPES)]}" for i in range(n)]


def duplicates(n: int) -> list[str]:
    return ["floor   attn_* Q4_K"] * n


def plain(n: int) -> list[str]:
    shapes = (
        lambda i: f"floor   {ROLES[i % 10]}@{i} Q4_K",
        lambda i: f"ceiling {ROLES[i % 10]}@{i} Q8_0",
        lambda i: f"pin     {ROLES[i % 10]}@{i} Q6_K",
        lambda i: "tie     ffn_gate_exps ffn_up_exps",
        lambda i: f"depth   {i} x1.5",
        lambda i: f"floor   attn_*@{i}..{i + 1} Q5_K",
        lambda i: f"pin     output@{i} Q8_0  # line {i}",
    )
    return [shapes[i % len(shapes)](i) for i in range(n)]


SHAPES = {"pins": (pins, (250, 500, 1000, 2000)),
          "duplicates": (duplicates, (5000, 10000, 20000)),
          "plain": (plain, (25000, 50000, 100000))}


def lint_seconds(lines: list[str], folder: Path) -> float:
    path = folder / "bench.recipe"
    path.write_text("\n".join(HEAD + lines) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["lint", str(path)])
    seconds = time.perf_counter() - start
    assert code in (0, 1) and "X001" not in out.getvalue() + err.getvalue(), (code, err.getvalue()[-500:])
    return seconds


def exponent(points: list[tuple[int, float]]) -> float:
    """The least-squares slope of log(seconds) against log(n)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-6)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lint_seconds(pins(10), folder)  # warm up: the grammar and the role table load once
        for name, (make, sizes) in SHAPES.items():
            sizes = tuple(s // 10 for s in sizes) if quick else sizes
            points = []
            for n in sizes:
                points.append((n, lint_seconds(make(n), folder)))
                print(f"{name:<11} {n:>7,} statements  {points[-1][1]:7.2f} s", flush=True)
            print(f"{name:<11} exponent {exponent(points):.2f} (1 = linear, 2 = quadratic)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
