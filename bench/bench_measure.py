#!/usr/bin/env python3
"""Time and peak memory of `recipec measure`, per type, on generated models (written into a temp dir).

    python bench/bench_measure.py [--llama-quantize PATH] [--layers 8] [--experts 64] [--ff 512]

Models: the `llama` fixture (1.4 M weights) and a synthetic qwen3moe (LAYERS blocks of EXPERTS
experts of FF rows: 8 x 64 x 512 gives 203 M weights, 406 MB of F16), each with a synthetic
imatrix. Each type runs as its own `recipec measure` process over one shared work directory (the
first also writes the row sample), so each line is that step's wall time and the peak resident
memory of its largest process (recipec or llama-quantize), from os.wait4.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recipec import fixtures  # noqa: E402
from recipec.measure import DEFAULT_TYPES  # noqa: E402


def write_moe(path: Path, layers: int, experts: int, ff: int) -> Path:
    """A qwen3moe GGUF with big expert stacks, written one tensor at a time (bounded memory)."""
    arch, kv, tensors = fixtures._qwen3moe(n=layers, nx=experts, ff=ff)  # the fixture's layout, scaled
    kv = {**kv, "block_count": layers, "expert_count": experts, "expert_feed_forward_length": ff}
    w = gguf.GGUFWriter(path, arch)
    for key, v in kv.items():
        fixtures._add_kv(w, f"{arch}.{key}", v)
    rng = np.random.default_rng(0)
    kinds = [(n, s, fixtures.source_type(n, s)) for n, s in tensors]
    for name, shape, t in kinds:
        dtype = np.float32 if t == "F32" else np.float16
        n = int(np.prod(shape))
        w.add_tensor_info(name, tuple(reversed(shape)), np.dtype(dtype), n * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shape, t in kinds:
        w.write_tensor_data(fixtures._tensor_data(name, shape, t, rng))
    w.close()
    return path


def run_step(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB of the largest process of the step, exit code)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        print(err, file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, proc.returncode


def bench_model(name: str, model: Path, imatrix: Path, quantize: str, work: Path) -> None:
    n = sum(int(np.prod(t.shape)) for t in gguf.GGUFReader(model).tensors)
    print(f"\n{name}: {n / 1e6:.1f} M weights, {model.stat().st_size / 2**20:.0f} MiB")
    print(f"  {'step':<22} {'seconds':>8} {'peak MiB':>9}")
    total = 0.0
    for i, t in enumerate(DEFAULT_TYPES):
        cmd = [sys.executable, "-m", "recipec", "measure", str(model), "--imatrix", str(imatrix), "-o",
               str(work / f"{name}.errors.json"), "--llama-quantize", quantize, "--work", str(work / name),
               "--types", *DEFAULT_TYPES[: i + 1]]
        seconds, peak, rc = run_step(cmd)
        total += seconds
        label = f"{t} (+ sample)" if i == 0 else t
        print(f"  {label:<22} {seconds:>8.2f} {peak:>9.0f}" + ("" if rc == 0 else f"  exit {rc}"))
    print(f"  {'all types':<22} {total:>8.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llama-quantize", default=os.environ.get("LLAMA_QUANTIZE"))
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--experts", type=int, default=64)
    p.add_argument("--ff", type=int, default=512)
    args = p.parse_args()
    quantize = args.llama_quantize or str(Path(subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_llama_cpp.sh")], capture_output=True, text=True,
        check=True).stdout.strip().splitlines()[-1]) / "llama-quantize")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = fixtures.write_model("llama", d / "small")
        bench_model("llama fixture", small, fixtures.write_imatrix("llama", small, d / "small.imatrix.gguf"),
                    quantize, d)
        big = write_moe(d / "moe.gguf", args.layers, args.experts, args.ff)
        bench_model("synthetic MoE", big, fixtures.write_imatrix("qwen3moe", big, d / "moe.imatrix.gguf"),
                    quantize, d)


if __name__ == "__main__":
    main()
