"""Benchmark: start-up and the whole compile path, as the user runs them (one process per run).

Prints, medians of --runs alternating rounds (each round runs every child once, in turn, so a
slow moment of this noisy machine hits them all alike), wall time and CPU time (user + system of
the child, which other work on the machine disturbs least), each with its ratio to its floor:

- the import floor: a fresh Python importing lark, pydantic, jinja2, gguf and numpy;
- `recipec compile` of the example (the README's command) and of synthetic models of about
  1,500 / 3,000 / 6,000 tensors (the example's trunk layers repeated, its MTP block last, its
  imatrix summary repeated alike), each with its ratio to the floor;
- `recipec compile` of the example's budgeted recipe (19.4 GiB, `solver optimal`): the solver's share;
- `recipec lint` of the example against two floors: `import lark, pydantic` as written (pydantic 2
  imports lazily: that loads none of its validation code) and lark + pydantic loaded and in use (a
  one-field model built and validated, with pydantic's plugin search off as recipec's main() turns
  it off), and `--version`;
- the import cost of each command (`python -X importtime`: the sum of the top-level imports)
  and which heavy packages it loads;
- the peak memory (ru_maxrss of the child) of every compile, the 6,000-tensor one included;
- the pipeline alone (load, resolve, rules, render; in this process, no imports) at each size,
  and the fitted growth exponents of its time and of the compile's peak memory above the floor.

    .venv/bin/python bench/bench_compile.py [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EX = ROOT / "examples"
RECIPE = EX / "qwen35moe-iq4xs-mtp.recipe"
OPTIMAL = EX / "qwen35moe-optimal-19.4gib.recipe"  # the same model with a budget: the solver runs
MANIFEST = EX / "qwen3.5-35b-a3b.manifest.json"
IMATRIX = EX / "qwen3.5-35b-a3b.imatrix.json"
SIZES = {"1,500": 80, "3,000": 164, "6,000": 328}  # label -> trunk layers (+1 MTP block)
HEAVY = ("lark", "pydantic", "jinja2", "gguf", "numpy")
# The least a program that validates with pydantic pays: its modules loaded, one model built and used.
PYDANTIC_IN_USE = """import os
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
import lark
from pydantic import BaseModel
class M(BaseModel):
    x: int
M(x=1)
"""
_BLOCK = re.compile(r"blk\.(\d+)\.(.*)")


def synthesize(trunk: int, out: Path) -> tuple[Path, Path, int]:
    """A manifest and an imatrix summary of the example with TRUNK trunk layers (the example's
    repeated in order) and its MTP block after them; (manifest, summary, tensor count)."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    summary = json.loads(IMATRIX.read_text(encoding="utf-8"))
    meta = manifest["metadata"]
    old_trunk = meta["block_count"] - meta.get("nextn_predict_layers", 0)
    head, tail, blocks, mtp = [], [], {}, []
    for t in manifest["tensors"]:
        m = _BLOCK.match(t["name"])
        if not m:
            (tail if blocks else head).append(t)
        elif int(m.group(1)) >= old_trunk:
            mtp.append((m.group(2), t))
        else:
            blocks.setdefault(int(m.group(1)), []).append((m.group(2), t))
    tensors = list(head)
    for i in range(trunk):
        tensors += [dict(t, name=f"blk.{i}.{rest}") for rest, t in blocks[i % old_trunk]]
    tensors += [dict(t, name=f"blk.{trunk}.{rest}") for rest, t in mtp] + tail
    manifest["tensors"], meta["block_count"] = tensors, trunk + meta.get("nextn_predict_layers", 0)
    entries = {}
    for name, v in summary["tensors"].items():
        m = _BLOCK.match(name)
        if not m:
            entries[name] = v
        elif int(m.group(1)) < old_trunk:
            entries.update({f"blk.{i}.{m.group(2)}": v for i in range(int(m.group(1)), trunk, old_trunk)})
    summary["tensors"] = entries
    mpath, ipath = out / f"synthetic-{trunk}.manifest.json", out / f"synthetic-{trunk}.imatrix.json"
    mpath.write_text(json.dumps(manifest), encoding="utf-8")
    ipath.write_text(json.dumps(summary), encoding="utf-8")
    return mpath, ipath, len(tensors)


def child(argv: list[str]) -> tuple[float, float, int]:
    """Run ARGV to the end: (wall seconds, CPU seconds, peak RSS in KiB). A failing child stops the
    benchmark. CPU time (user + system) is what other work on the machine disturbs least."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} exited {proc.returncode}:\n{err.decode(errors='replace')}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def recipec(*args: str) -> list[str]:
    return [sys.executable, "-m", "recipec", *args]


def import_cost(args: list[str]) -> tuple[float, list[str]]:
    """(seconds of top-level imports under -X importtime, the heavy packages among them) of one run."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "recipec", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    total, seen = 0, set()
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        if len(m.group(3)) == 1:  # a top-level import (each level deeper adds two spaces)
            total += int(m.group(2))
        if m.group(4) in HEAVY:
            seen.add(m.group(4))
    return total / 1e6, [h for h in HEAVY if h in seen]


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """The slope of log y on log x (least squares): y ~ x^slope."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-9)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def pipeline_seconds(models: dict[str, tuple[Path, Path, int]], runs: int) -> dict[str, float]:
    """Median CPU seconds of compile_recipe + render_plan in this process (imports done), per model."""
    from recipec.api import compile_recipe, render_plan

    gc.set_threshold(200_000, 30, 30)  # as recipec's main() sets it
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(runs):
        for label, (m, i, _) in models.items():
            t = time.process_time()
            compiled = compile_recipe(str(RECIPE), str(m), [str(i)])
            render_plan(compiled.plan)
            times[label].append(time.process_time() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def measure(models: dict[str, tuple[Path, Path, int]], out: Path, runs: int) -> tuple[dict, dict, dict]:
    """Medians of RUNS alternating rounds of every child (wall, CPU), and each child's largest peak RSS."""
    children = {
        "floor": [sys.executable, "-c", "import " + ", ".join(HEAVY)],
        "floor lark+pydantic": [sys.executable, "-c", "import lark, pydantic"],
        "floor lark+pydantic in use": [sys.executable, "-c", PYDANTIC_IN_USE],
        **{f"compile {label}": recipec("compile", str(RECIPE), "--model", str(m), "--imatrix", str(i),
                                       "-o", str(out / f"kit-{n}")) for label, (m, i, n) in models.items()},
        "compile example at 19.4 GiB": recipec("compile", str(OPTIMAL), "--model", str(MANIFEST), "--imatrix",
                                               str(IMATRIX), "-o", str(out / "kit-optimal")),
        "lint": recipec("lint", str(RECIPE)),
        "--version": recipec("--version"),
    }
    child(children["compile example"])  # warm the caches (pyc files, Lark's grammar, Jinja's bytecode)
    wall: dict[str, list[float]] = {k: [] for k in children}
    cpu: dict[str, list[float]] = {k: [] for k in children}
    rss: dict[str, int] = {k: 0 for k in children}
    for _ in range(runs):
        for name, argv in children.items():
            seconds, used, kib = child(argv)
            wall[name].append(seconds)
            cpu[name].append(used)
            rss[name] = max(rss[name], kib)
    return ({k: statistics.median(v) for k, v in wall.items()}, {k: statistics.median(v) for k, v in cpu.items()},
            rss)


def print_processes(models, wall: dict, cpu: dict, rss: dict, runs: int) -> None:
    def row(name: str, key: str, floor: str, note: str = "") -> None:
        print(f"  {name:<44} {wall[key] * 1000:7.1f} ms {wall[key] / wall[floor]:5.2f}x  |"
              f" {cpu[key] * 1000:7.1f} ms {cpu[key] / cpu[floor]:5.2f}x{note}")

    print(f"whole processes, medians of {runs} alternating runs:   wall, ratio to its floor | CPU, ratio")
    row("import floor: lark pydantic jinja2 gguf numpy", "floor", "floor")
    row("import floor: lark pydantic", "floor lark+pydantic", "floor lark+pydantic")
    row("floor: lark + pydantic in use (one model)", "floor lark+pydantic in use", "floor lark+pydantic")
    for label, (_, _, n) in models.items():
        key = f"compile {label}"
        row(f"compile {label} ({n} tensors)", key, "floor", f"  peak {rss[key] / 1024:6.1f} MiB")
    row("compile example, budget 19.4 GiB (the solver)", "compile example at 19.4 GiB", "floor",
        f"  peak {rss['compile example at 19.4 GiB'] / 1024:6.1f} MiB")
    row("lint of the example (vs import lark, pydantic)", "lint", "floor lark+pydantic")
    row("lint of the example (vs pydantic in use)", "lint", "floor lark+pydantic in use")
    row("--version", "--version", "floor")
    ns = [n for _, _, n in models.values()]
    above = [max(rss[f"compile {label}"] - rss["floor"], 1) for label in models]
    print(f"  peak memory above the floor's: {', '.join(f'{a / 1024:.1f}' for a in above)} MiB; "
          f"growth exponent {fit_exponent(ns, above):.2f}")
    first, last = list(models)[1], list(models)[-1]
    per = {k: (d[f"compile {last}"] - d[f"compile {first}"]) / (models[last][2] - models[first][2]) * 1e6
           for k, d in (("wall", wall), ("CPU", cpu))}
    print(f"  each 1,000 tensors more ({first} to {last}): {per['wall']:.0f} ms wall, {per['CPU']:.0f} ms CPU")


def print_imports(kit: Path) -> None:
    """The import cost of each command; KIT is the example's compiled kit."""
    plan = str(kit / "plan.lock.json")
    commands = {
        "--version": ["--version"], "--help": ["--help"],
        "lint": ["lint", str(RECIPE)], "fmt --check": ["fmt", "--check", str(RECIPE)],
        "compile": ["compile", str(RECIPE), "--model", str(MANIFEST), "--imatrix", str(IMATRIX), "-o", str(kit)],
        "render --check": ["render", plan, "-o", str(kit), "--check"],
        "explain": ["explain", str(RECIPE), "--model", str(MANIFEST), "output.weight"],
        "diff": ["diff", plan, plan],
        **{f"{c} --help": [c, "--help"] for c in ("simulate", "inspect", "import", "verify", "measure")},
    }
    print("import cost per command (-X importtime, top-level imports; median of 3):")
    for name, args in commands.items():
        costs = [import_cost(args) for _ in range(3)]
        seconds = statistics.median(c[0] for c in costs)
        print(f"  {name:<16} {seconds * 1000:7.1f} ms  {' '.join(costs[0][1]) or '-'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="alternating rounds (at least 7 for the report)")
    runs = ap.parse_args().runs
    # An installed package has its bytecode compiled; a checkout run with PYTHONDONTWRITEBYTECODE
    # set would otherwise recompile every edited module in every child.
    compileall.compile_dir(str(ROOT / "recipec"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        out = Path(tmp)
        n_example = len(json.loads(MANIFEST.read_text(encoding="utf-8"))["tensors"])
        models = {"example": (MANIFEST, IMATRIX, n_example)}
        for label, trunk in SIZES.items():
            models[label] = synthesize(trunk, out)
        wall, cpu, rss = measure(models, out, runs)
        print_processes(models, wall, cpu, rss, runs)
        print_imports(out / f"kit-{n_example}")
        alone = pipeline_seconds(models, runs)
        ns = [n for _, _, n in models.values()]
        print(f"the pipeline alone (load, lint, resolve, rules, render; in-process CPU time), medians of {runs}:")
        for label, (_, _, n) in models.items():
            print(f"  {label:<8} {n:>5} tensors  {alone[label] * 1000:7.1f} ms  "
                  f"{alone[label] / n * 1e6:6.1f} us/tensor")
        print(f"  growth exponent (time ~ tensors^k): k = {fit_exponent(ns, list(alone.values())):.2f}")


if __name__ == "__main__":
    main()
