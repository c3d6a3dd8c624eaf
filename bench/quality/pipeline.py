"""The bench: prepare the model, then stock mixes vs recipec plans of the same size, each measured by KLD."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

from . import export, reference, tools
from .cache import Stage, cache_root, stage_key
from .config import BenchConfig
from .measured import MODES, MeasureJob, errors_stage
from .model_stage import Prepared, log, prepare

ROOT = Path(__file__).resolve().parents[2]


def recipec_digest() -> str:
    """A hash of the compiler's code, grammar and templates: compiled plans depend on them."""
    h = hashlib.sha256()
    for sub in ("recipec", "grammar", "templates"):
        for p in sorted((ROOT / sub).rglob("*")):
            if p.is_file() and p.suffix in (".py", ".lark", ".jinja"):
                h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Base:
    """The F16 model, its imatrix and its logits on the evaluation text."""

    model: Path
    imatrix: Path
    logits: Path
    info: dict
    key: str


def base_stage(cfg: BenchConfig, prep: Prepared, root: Path) -> Base:
    ev = cfg.evaluation
    key = stage_key("base", prep.key, tools.version(), cfg.section("evaluation"), code=("export.py", "reference.py", "tools.py"))
    st = Stage(root, key)
    if not st.done:
        d = st.begin()
        weights = dict(np.load(prep.weights_path))
        model = d / "model-f16.gguf"
        export.write_gguf(model, weights, cfg.model, prep.tokenizer, f"recipec bench {cfg.name}")
        (d / "eval.txt").write_text(prep.split.eval_text)
        (d / "calib.txt").write_text(prep.split.calib_text)
        log("llama-imatrix on the calibration text")
        tools.imatrix(model, d / "calib.txt", d / "imatrix.gguf", ev.ctx, ev.imatrix_chunks, ev.threads)
        log("llama-perplexity: F16 base logits on the evaluation text")
        ppl, ppl_err = tools.save_base_logits(model, d / "eval.txt", d / "base.kld", ev.ctx, ev.eval_chunks, ev.threads)
        n_chunks = _chunks(d / "base.log")
        log(f"reference perplexity (numpy forward over {n_chunks} chunks)")
        ids = prep.tokenizer.encode(prep.split.eval_text)
        ref = reference.perplexity(weights, cfg.model, ids, ev.ctx, max_chunks=n_chunks)
        info = {"llama_ppl": ppl, "llama_ppl_err": ppl_err, "reference_ppl": ref, "eval_chunks": n_chunks,
                "eval_tokens_ours": int(len(ids)), "f16_bytes": model.stat().st_size, "train": prep.train_stats,
                "eval_files": list(prep.split.eval_files), "calib_files": list(prep.split.calib_files),
                "llama_cpp": tools.version()}
        (d / "base.json").write_text(json.dumps(info, indent=1))
        st.finish()
    info = json.loads(st.path("base.json").read_text())
    log(f"base: llama.cpp perplexity {info['llama_ppl']:.3f} ± {info['llama_ppl_err']:.3f}, "
        f"numpy reference {info['reference_ppl']:.3f}")
    return Base(st.path("model-f16.gguf"), st.path("imatrix.gguf"), st.path("base.kld"), info, key)


def _chunks(log_path: Path) -> int:
    m = re.search(r"perplexity over (\d+) chunks", log_path.read_text())
    return int(m.group(1)) if m else 0


def file_stats(path: Path) -> dict:
    """Exact file size, bits per weight over all tensors, and how many tensors have each type."""
    r = gguf.GGUFReader(str(path))
    nbytes = sum(int(t.n_bytes) for t in r.tensors)
    nelem = sum(int(t.n_elements) for t in r.tensors)
    types = Counter(gguf.GGMLQuantizationType(int(t.tensor_type)).name for t in r.tensors if len(t.shape) > 1)
    per = {t.name: gguf.GGMLQuantizationType(int(t.tensor_type)).name for t in r.tensors if len(t.shape) > 1}
    return {"file_bytes": path.stat().st_size, "tensor_bytes": nbytes, "bpw": 8 * nbytes / nelem,
            "types": dict(sorted(types.items())), "tensor_types": per}


def stock_variant(cfg: BenchConfig, base: Base, mix: str, root: Path) -> dict:
    key = stage_key("stock", base.key, mix, code=("tools.py",))
    st = Stage(root, key)
    if not st.done:
        d = st.begin()
        out = d / f"stock-{mix}.gguf"
        log(f"{mix}: llama-quantize (stock mix, imatrix)")
        tools.run([tools.tool("llama-quantize"), "--imatrix", str(base.imatrix), str(base.model), str(out), mix,
                   str(cfg.evaluation.threads)], d / "quantize.log")
        result = {"label": f"stock {mix}", "mix": mix, "method": "stock", **file_stats(out)}
        result["kld"] = _measure(cfg, base, out, d)
        (d / "result.json").write_text(json.dumps(result, indent=1))
        st.finish()
    return json.loads(st.path("result.json").read_text())


def recipe_text(mix: str, solver: str, pins: tuple[str, ...], budget_bytes: int, ladder: tuple[str, ...]) -> str:
    suffix = "".join(f"-pin-{p.split()[0]}" for p in pins)
    return (f"# The budget is the exact size of llama-quantize's own {mix} of the same model and imatrix.\n"
            f'recipe "bench-{mix.lower()}-{solver}{suffix}"\n'
            f"arch   llama\nbase   {mix}\nladder {' '.join(ladder)}\n"
            f"budget {budget_bytes} B\n" + "".join(f"pin    {p}\n" for p in pins) + f"solver {solver}\n")


def variant_name(solver: str, pins: tuple[str, ...], measured: str | None = None) -> tuple[str, str]:
    """(label, method): `recipec optimal`, `recipec optimal, pin output Q6_K`, `recipec optimal, measured t²`."""
    label = f"recipec {solver}" + "".join(f", pin {p}" for p in pins) + (f", {MODES[measured]}" if measured else "")
    method = f"recipec-{solver}" + ("-pinned" if pins else "")
    if measured:
        method = f"recipec-measured-{measured}" + ("-pinned" if pins else "")
    return label, method


def recipec_variant(cfg: BenchConfig, base: Base, mix: str, solver: str, pins: tuple[str, ...], budget: int,
                    root: Path, errors: dict | None = None) -> dict:
    """A recipec plan at the stock file's size: compile → quantize.sh → verify → KLD.

    With `errors` (from `measured.errors_stage`) the same recipe is compiled with `--errors`.
    """
    text = recipe_text(mix, solver, pins, budget, cfg.ladder)
    key = stage_key("recipec", base.key, text, recipec_digest(), errors["sha256"] if errors else "",
                    code=("tools.py", "pipeline.py"))
    st = Stage(root, key)
    if not st.done:
        d = st.begin()
        recipe = d / "bench.recipe"
        recipe.write_text(text)
        kit = d / "kit"
        how = f"solver {solver}{''.join(', pin ' + p for p in pins)}" + (f", {MODES[errors['mode']]}" if errors else "")
        log(f"{mix}: recipec compile ({how}, budget {budget} B)")
        extra = ["--errors", errors["path"]] if errors else []
        tools.run([sys.executable, "-m", "recipec", "compile", str(recipe), "--model", str(base.model),
                   "--imatrix", str(base.imatrix), *extra, "-o", str(kit)], d / "compile.log", env=_pyenv())
        plan = json.loads((kit / "plan.lock.json").read_text())
        label, method = variant_name(solver, pins, errors["mode"] if errors else None)
        out = d / f"{method}-{mix}.gguf"
        _quantize_kit(cfg, base, kit, out, d)
        totals = plan["totals"]
        result = {"label": label, "mix": mix, "method": method, "recipe": text, "budget_bytes": budget,
                  "predicted_bytes": totals["file_bytes"], "objective": totals["objective"], "gap": totals["gap"],
                  "stock_objective": (plan.get("stock") or {}).get("objective"),
                  "error_model": plan.get("error_model"), "verified": True, **file_stats(out)}
        if errors:
            result["measure_seconds"] = errors["seconds"]
        result["kld"] = _measure(cfg, base, out, d)
        (d / "result.json").write_text(json.dumps(result, indent=1))
        st.finish()
    return json.loads(st.path("result.json").read_text())


def _quantize_kit(cfg: BenchConfig, base: Base, kit: Path, out: Path, d: Path) -> None:
    """The kit's quantize.sh (dry-run gate, llama-quantize, verify), then `recipec verify`."""
    wrapper = d / "recipec"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m recipec "$@"\n')
    wrapper.chmod(0o755)
    log("  quantize.sh (dry-run gate, llama-quantize, verify)")
    tools.run(["bash", str(kit / "quantize.sh"), "--model", str(base.model), "--imatrix", str(base.imatrix),
               "--out", str(out), "--llama-quantize", tools.tool("llama-quantize"),
               "--threads", str(cfg.evaluation.threads), "--force"],
              d / "quantize.log", env={**_pyenv(), "RECIPEC": str(wrapper)})
    tools.run([sys.executable, "-m", "recipec", "verify", str(kit / "plan.lock.json"), str(out)],
              d / "verify.log", env=_pyenv())


def _pyenv() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def _measure(cfg: BenchConfig, base: Base, model: Path, d: Path) -> dict:
    k = tools.kl_divergence(model, base.logits, d / "kld.log", cfg.evaluation.threads)
    log(f"  KLD {k.kld:.6f} ± {k.kld_err:.6f}, p99 {k.kld_p99:.5f}, same top {k.same_top:.2f} %, PPL {k.ppl:.3f}"
        + (f" ({k.attempts} attempts)" if k.attempts > 1 else ""))
    return k.to_dict()


def _errors(cfg: BenchConfig, prep: Prepared, base: Base, mode: str, root: Path, record: dict) -> dict | None:
    """The error file of one measured mode, or None (recorded): probes missing from `recipec measure`
    or failing are left out of the table rather than failing the bench."""
    job = MeasureJob(base.model, base.imatrix, prep.split.probe_text, cfg.ladder, cfg.probe, cfg.probe_chunks,
                     cfg.evaluation.ctx, cfg.evaluation.threads)
    try:
        e = errors_stage(mode, job, base.key, recipec_digest(), _pyenv(), root)
    except tools.ToolError as exc:
        if mode != "probes":
            raise
        log(f"measure: the probes failed; the 'measured + probes' rows are left out: {exc}")
        record[mode] = {"failed": str(exc).splitlines()[0]}
        return None
    if e is None:
        record[mode] = {"skipped": "this recipec's measure has no --kld"}
    else:
        record[mode] = {"seconds": e["seconds"], "sha256": e["sha256"]}
    return e


@dataclass
class Results:
    config: str
    base: dict
    rows: list[dict] = field(default_factory=list)


def run_bench(cfg: BenchConfig, root: Path | None = None, keep_models: bool = True) -> Results:
    """Every stage, cached; returns the table rows (stock, then recipec per solver, per mix)."""
    root = root or cache_root()
    prep = prepare(cfg, root)
    base = base_stage(cfg, prep, root)
    res = Results(cfg.name, base.info)
    stocks = {}
    for mix in cfg.mixes:
        stocks[mix] = stock_variant(cfg, base, mix, root)
        res.rows.append(stocks[mix])
        for solver, pins in cfg.variants:
            res.rows.append(recipec_variant(cfg, base, mix, solver, pins, stocks[mix]["file_bytes"], root))
    # One error file per measured mode (from the F16 model and the same imatrix as every variant),
    # then its plans at every size; cheapest mode first, so its rows exist before the probes run.
    res.base["measured"] = {}
    for mode in cfg.measured:
        errors = _errors(cfg, prep, base, mode, root, res.base["measured"])
        for mix in cfg.mixes if errors else ():
            res.rows.append(recipec_variant(cfg, base, mix, "optimal", (), stocks[mix]["file_bytes"], root, errors))
    order = {m: i for i, m in enumerate(cfg.mixes)}
    res.rows.sort(key=lambda r: order[r["mix"]])  # stable: per mix, stock first, then as run
    return res
