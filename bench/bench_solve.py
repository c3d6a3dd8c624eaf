"""Benchmark: resolve+solve time (35B manifest, synthetic 1,500-tensor model), compile process
time, and the optimal vs greedy objective over budgets between the floors' and ceilings' sizes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from recipec import solve  # noqa: E402
from recipec.loaders import load_imatrix, load_model  # noqa: E402
from recipec.modelinfo import ModelInfo, make_tensor  # noqa: E402
from recipec.recipe import SizeBudget, load  # noqa: E402
from recipec.resolve import resolve  # noqa: E402

EX = os.path.join(ROOT, "examples")
RECIPE = os.path.join(EX, "qwen35moe-optimal-19.4gib.recipe")
MANIFEST = os.path.join(EX, "qwen3.5-35b-a3b.manifest.json")
IMATRIX = os.path.join(EX, "qwen3.5-35b-a3b.imatrix.json")


def synthetic(n_layers: int = 250) -> ModelInfo:
    """A dense llama-like model with 6 matrices per layer (1,500 quantized tensors)."""
    tensors, e = [], 1024
    for i in range(n_layers):
        for role, shape in (("attn_q", (e, e)), ("attn_k", (e, 256)), ("attn_v", (e, 256)),
                            ("attn_output", (e, e)), ("ffn_up", (e, 2816)), ("ffn_down", (2816, e))):
            tensors.append(make_tensor(f"blk.{i}.{role}.weight", shape, "F16", n_layers, 0))
    return ModelInfo(arch="llama", tensors=tuple(tensors), block_count=n_layers, nextn_layers=0,
                     metadata={"block_count": n_layers})


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    loaded = load(RECIPE)
    model = load_model(MANIFEST)
    im = load_imatrix(IMATRIX, model)
    res, t = timed(lambda: resolve(loaded.recipe, model, im))
    print(f"35B manifest: resolve+solve {t:.3f} s, {len(res.plan.problem.groups)} groups, "
          f"gap {100 * res.plan.totals.gap:.4f} %")
    syn = synthetic()
    syn_recipe = loaded.recipe.model_copy(update=dict(arch=(), bounds=(), ties=(), depth=(),
                         budget=SizeBudget(bytes=1_000_000_000, amount=1e9, unit="B", span=loaded.recipe.budget.span)))
    res2, t = timed(lambda: resolve(syn_recipe, syn))
    print(f"synthetic 1,500 tensors: resolve+solve {t:.3f} s, gap {100 * res2.plan.totals.gap:.4f} %")
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "recipec", "compile", RECIPE, "--model", MANIFEST, "--imatrix", IMATRIX,
               "-o", os.path.join(d, "kit")]
        _, t = timed(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT))
    print(f"recipec compile process: {t:.3f} s")
    groups = [[solve.Option(o.bytes, o.cost) for o in g.options] for g in res.plan.problem.groups]
    lo = sum(min(o.bytes for o in g) for g in groups)
    hi = sum(max(o.bytes for o in g) for g in groups)
    print("budget (fraction floors->ceilings)  optimal  greedy  gap%  solver-s")
    for k in range(1, 6):
        cap = lo + (hi - lo) * k // 6
        (opt, ts) = timed(lambda: solve.optimal(groups, cap))
        gr = solve.greedy(groups, cap)
        print(f"  {k}/6  {opt.objective:.6g}  {gr.objective:.6g}  {100 * opt.gap:.4f}  {ts:.3f}")


if __name__ == "__main__":
    main()
