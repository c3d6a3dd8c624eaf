"""python -m bench.quality [--config full|long|smoke] [--out DIR]: run the quality bench and write its table."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from . import report, tools
from .cache import cache_root
from .config import CONFIGS
from .model_stage import log
from .pipeline import run_bench

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="full",
                    help="full: the 8.4 M-parameter model, 320 steps (needs torch); long: the same architecture "
                    "trained 800 steps, with plans from `recipec measure` (t² alone, and with KLD probes); "
                    "smoke: a tiny numpy-fitted model")
    ap.add_argument("--out", type=Path, help="where results.json, table.md, kld_vs_size.svg go "
                    "(default: bench/quality/results/CONFIG)")
    ap.add_argument("--cache", type=Path, help=f"cache directory (default: {cache_root()})")
    args = ap.parse_args(argv)
    cfg = CONFIGS[args.config]
    out = args.out or HERE / "results" / cfg.name
    t0 = time.time()
    results = run_bench(cfg, args.cache)
    meta = {"command": f"python -m bench.quality --config {cfg.name}", "llama_cpp": tools.version(),
            "python": platform.python_version(), "machine": f"{platform.machine()}, {_cpu()}",
            "config": cfg.to_dict()}
    try:
        import torch

        meta["torch"] = torch.__version__
    except ImportError:
        pass
    paths = report.write(out, results, meta)
    sys.stdout.write(report.text_table(results.rows))
    log(f"wrote {', '.join(str(p) for p in paths.values())} in {time.time() - t0:.0f} s")
    return 0


def _cpu() -> str:
    import os

    name = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())
