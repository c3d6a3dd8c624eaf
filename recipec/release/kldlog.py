"""llama-perplexity's KL-divergence summary -> one variant's metrics JSON (recipec.metrics/1).

Standard library only: eval.sh carries this file verbatim and runs it with python3, so a GPU box
needs no recipec to measure. Exit 0: the metrics were written; 3: the log has no complete summary
(llama-perplexity sometimes exits before printing it; eval.sh runs it again); 2: bad arguments.

    python3 kldlog.py LOG --out FILE [--variant V --file F --file-bytes N --llama-cpp VERSION
                                      --text-sha256 HEX --ctx N --chunks N --plan-sha256 HEX]
"""

import argparse
import json
import re
import sys

SCHEMA = "recipec.metrics/1"
MISSING = 3
_F = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
_PM = r"\s*(?:±|\+/-)\s*"
# key -> (pattern, names of its groups); every one must be in the log for a complete summary
_LINES = {
    "ppl": (rf"^Mean PPL\(Q\)\s*:\s*{_F}{_PM}{_F}", ("ppl", "ppl_err")),
    "ppl_base": (rf"^Mean PPL\(base\)\s*:\s*{_F}{_PM}{_F}", ("ppl_base", "ppl_base_err")),
    "kld": (rf"^Mean\s+KLD:\s*{_F}{_PM}{_F}", ("kld", "kld_err")),
    "kld_max": (rf"^Maximum KLD:\s*{_F}", ("kld_max",)),
    "kld_p99": (rf"^99\.0%\s+KLD:\s*{_F}", ("kld_p99",)),
    "kld_p95": (rf"^95\.0%\s+KLD:\s*{_F}", ("kld_p95",)),
    "kld_median": (rf"^Median\s+KLD:\s*{_F}", ("kld_median",)),
    "same_top": (rf"^Same top p:\s*{_F}{_PM}{_F}\s*%", ("same_top", "same_top_err")),
}


def parse(text: str):
    """The summary's numbers as printed, by name; None when any line of it is missing."""
    out = {}
    for pattern, names in _LINES.values():
        m = re.search(pattern, text, re.M)
        if m is None:
            return None
        out.update(zip(names, (float(g) for g in m.groups())))
    return out


def metrics(numbers: dict, variant: str, file: str, file_bytes: int, llama_cpp: str, text_sha256: str,
            ctx: int, chunks: int, plan_sha256: str = "") -> dict:
    """The metrics record: the numbers plus what they were measured with (no clock, no machine)."""
    return {"schema": SCHEMA, "variant": variant, "file": file, "file_bytes": file_bytes, "plan_sha256": plan_sha256,
            "llama_cpp": llama_cpp, "text_sha256": text_sha256, "ctx": ctx, "chunks": chunks, **numbers}


def main(argv) -> int:
    ap = argparse.ArgumentParser(prog="kldlog.py", description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant", default="")
    ap.add_argument("--file", default="")
    ap.add_argument("--file-bytes", type=int, default=0)
    ap.add_argument("--llama-cpp", default="unknown")
    ap.add_argument("--text-sha256", default="")
    ap.add_argument("--ctx", type=int, default=0)
    ap.add_argument("--chunks", type=int, default=0)
    ap.add_argument("--plan-sha256", default="")
    args = ap.parse_args(argv)
    with open(args.log, encoding="utf-8", errors="replace") as f:
        numbers = parse(f.read())
    if numbers is None:
        print(f"kldlog.py: {args.log}: no complete KL-divergence summary", file=sys.stderr)
        return MISSING
    record = metrics(numbers, args.variant, args.file, args.file_bytes, args.llama_cpp, args.text_sha256,
                     args.ctx, args.chunks, args.plan_sha256)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(record, sort_keys=True, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
