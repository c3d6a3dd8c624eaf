#!/usr/bin/env python3
"""Time `recipec inspect` on model headers of 1,500 and 200,000 tensors and a 200 MB imatrix
(generated into a temp dir). Inspect reads every tensor's name, shape and type once: the time per
tensor should stay flat from the small header to the large one (linear, not quadratic).

    python bench/bench_inspect.py [--tensors 1500] [--large 200000] [--imatrix-mb 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recipec.loaders import dumps_manifest, dumps_summary, load_imatrix, load_model  # noqa: E402


def write_big_header(path: Path, n_tensors: int) -> Path:
    """A llama-layout GGUF with N_TENSORS tiny tensors (the header is what inspect reads)."""
    w = gguf.GGUFWriter(path, "llama")
    per_block = 9
    blocks = n_tensors // per_block + 1
    for key, v in (("context_length", 4096), ("embedding_length", 32), ("block_count", blocks),
                   ("feed_forward_length", 64), ("attention.head_count", 4), ("attention.head_count_kv", 4)):
        w.add_uint32(f"llama.{key}", v)
    names = []
    for i in range(blocks):
        names += [f"blk.{i}.{r}.weight" for r in ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                                  "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")]
    one = np.zeros((1, 32), np.float16)
    for name in names[:n_tensors]:
        w.add_tensor(name, one)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_big_imatrix(path: Path, megabytes: int) -> Path:
    """A GGUF imatrix of about MEGABYTES of in_sum2 (MoE-sized entries: 256 experts x 2048)."""
    w = gguf.GGUFWriter(path, "llama")
    w.kv_data[0].pop(gguf.Keys.General.ARCHITECTURE, None)
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["bench.txt"])
    w.add_uint32("imatrix.chunk_count", 100)
    w.add_uint32("imatrix.chunk_size", 512)
    rng = np.random.default_rng(0)
    n = max(1, megabytes * 1024 * 1024 // (256 * 2048 * 4))
    counts = rng.integers(0, 4000, size=(256, 1)).astype(np.float32)
    s2 = (rng.random((256, 2048), dtype=np.float32) * counts).astype(np.float32)
    for i in range(n):
        w.add_tensor(f"blk.{i // 3}.ffn_{('gate', 'up', 'down')[i % 3]}_exps.weight.in_sum2", s2)
        w.add_tensor(f"blk.{i // 3}.ffn_{('gate', 'up', 'down')[i % 3]}_exps.weight.counts", counts)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cli_time(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recipec", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tensors", type=int, default=1500)
    ap.add_argument("--large", type=int, default=200_000, help="tensors of the large header (0: skip it)")
    ap.add_argument("--imatrix-mb", type=int, default=200)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        model = write_big_header(d / "big.gguf", a.tensors)
        imatrix = write_big_imatrix(d / "big.imatrix.gguf", a.imatrix_mb)
        size = imatrix.stat().st_size / 1e6
        t_model = best_of(lambda: dumps_manifest(load_model(model)))
        t_imat = best_of(lambda: dumps_summary(load_imatrix(imatrix)))
        t_start = best_of(lambda: cli_time(["--version"]))  # interpreter, imports, argument parser
        t_cli_m = best_of(lambda: cli_time(["inspect", str(model)]))
        t_cli_i = best_of(lambda: cli_time(["inspect", str(imatrix)]))
        print(f"model header, {a.tensors} tensors:   {t_model * 1000:7.1f} ms in-process, "
              f"CLI {t_cli_m * 1000:7.1f} ms ({(t_cli_m - t_start) * 1000:6.1f} ms beyond start-up)")
        print(f"imatrix GGUF, {size:.0f} MB:          {t_imat * 1000:7.1f} ms in-process, "
              f"CLI {t_cli_i * 1000:7.1f} ms ({(t_cli_i - t_start) * 1000:6.1f} ms beyond start-up)")
        print(f"start-up (`recipec --version`):   {t_start * 1000:7.1f} ms")
        if a.large:
            large = write_big_header(d / "large.gguf", a.large)
            t_large = best_of(lambda: dumps_manifest(load_model(large)), repeat=2)
            t_cli_l = best_of(lambda: cli_time(["inspect", str(large)]), repeat=1)
            print(f"model header, {a.large} tensors: {t_large:7.2f} s in-process, CLI {t_cli_l:6.2f} s; "
                  f"{t_large / a.large * 1e6:5.1f} us a tensor (small header: {t_model / a.tensors * 1e6:5.1f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
