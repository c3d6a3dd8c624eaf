"""Running the real llama.cpp tools (llama-imatrix, llama-perplexity, llama-quantize) and reading their output."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ToolError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The llama.cpp bin/ directory: $LLAMA_CPP_BIN, else the pinned build (built on first use)."""
    env = os.environ.get("LLAMA_CPP_BIN")
    if env:
        return Path(env)
    out = subprocess.run(["bash", str(ROOT / "scripts" / "build_llama_cpp.sh")], check=True,
                         capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def tool(name: str) -> str:
    path = bin_dir() / name
    if not path.is_file():
        raise ToolError(f"{name} not found in {path.parent}")
    return str(path)


def run(args: list[str], log_path: Path, env: dict | None = None) -> str:
    """Run a command, keep its combined output in log_path, raise with the tail on failure."""
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                          env={**os.environ, **(env or {})})
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-25:])
        raise ToolError(f"{Path(args[0]).name} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    return proc.stdout


def version() -> str:
    """llama.cpp's version line and compiler, as the tools print them."""
    proc = subprocess.run([tool("llama-perplexity"), "--version"], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    m = re.search(r"^version: (.*)$", text, re.M)
    b = re.search(r"^built with (.*)$", text, re.M)
    return (m.group(1).strip() if m else "unknown") + (f", built with {b.group(1).strip()}" if b else "")


def imatrix(model: Path, text: Path, out: Path, ctx: int, chunks: int, threads: int) -> None:
    args = [tool("llama-imatrix"), "-m", str(model), "-f", str(text), "-o", str(out), "-c", str(ctx),
            "-t", str(threads), "--no-ppl"]
    if chunks:
        args += ["--chunks", str(chunks)]
    run(args, out.with_suffix(".log"))
    if not out.is_file():
        raise ToolError(f"llama-imatrix wrote no {out}")


_FINAL = re.compile(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)")


def save_base_logits(model: Path, text: Path, base: Path, ctx: int, chunks: int, threads: int) -> tuple[float, float]:
    """F16 logits of the evaluation text into `base`; returns llama.cpp's perplexity (± error)."""
    args = [tool("llama-perplexity"), "-m", str(model), "-f", str(text), "-c", str(ctx), "-t", str(threads),
            "--kl-divergence-base", str(base)]
    if chunks:
        args += ["--chunks", str(chunks)]
    out = run_until(args, base.with_suffix(".log"), _FINAL.search)
    m = _FINAL.search(out)
    return float(m.group(1)), float(m.group(2))


def run_until(args: list[str], log_path: Path, complete, retries: int = 8) -> str:
    """Run llama-perplexity until its output is complete (see kl_divergence on why it may not be)."""
    for attempt in range(1, retries + 2):
        out = run(args, log_path)
        if complete(out):
            return out
        # A lost summary comes with load spikes (the logging thread starved at exit): wait them out.
        time.sleep(min(2 ** attempt, 30))
    tail = "\n".join(out.splitlines()[-15:])
    raise ToolError(f"{Path(args[0]).name} output stayed incomplete in {retries + 1} attempts; log {log_path}:\n{tail}")


@dataclass(frozen=True)
class KLD:
    """llama-perplexity --kl-divergence's summary."""

    ppl: float
    ppl_err: float
    ppl_base: float
    kld: float
    kld_err: float
    kld_p99: float
    kld_p999: float
    kld_max: float
    kld_median: float
    same_top: float  # percent
    same_top_err: float
    attempts: int

    def to_dict(self) -> dict:
        return asdict(self)


def _num(pattern: str, text: str) -> tuple[float, ...] | None:
    m = re.search(pattern, text, re.M)
    return tuple(float(g) for g in m.groups()) if m else None


def parse_kld(out: str) -> dict | None:
    """The summary's numbers, or None when the run ended before printing all of it."""
    pm = r"\s*(?:±|\+/-)\s*"
    f = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
    fields = {
        "ppl": _num(rf"^Mean PPL\(Q\)\s*:\s*{f}{pm}{f}", out),
        "ppl_base": _num(rf"^Mean PPL\(base\)\s*:\s*{f}", out),
        "kld": _num(rf"^Mean\s+KLD:\s*{f}{pm}{f}", out),
        "kld_max": _num(rf"^Maximum KLD:\s*{f}", out),
        "kld_p999": _num(rf"^99\.9%\s+KLD:\s*{f}", out),
        "kld_p99": _num(rf"^99\.0%\s+KLD:\s*{f}", out),
        "kld_median": _num(rf"^Median\s+KLD:\s*{f}", out),
        "same_top": _num(rf"^Same top p:\s*{f}{pm}{f}\s*%", out),
    }
    if any(v is None for v in fields.values()):
        return None
    return {
        "ppl": fields["ppl"][0], "ppl_err": fields["ppl"][1], "ppl_base": fields["ppl_base"][0],
        "kld": fields["kld"][0], "kld_err": fields["kld"][1], "kld_p99": fields["kld_p99"][0],
        "kld_p999": fields["kld_p999"][0], "kld_max": fields["kld_max"][0], "kld_median": fields["kld_median"][0],
        "same_top": fields["same_top"][0], "same_top_err": fields["same_top"][1],
    }


def kl_divergence(model: Path, base: Path, log_path: Path, threads: int, retries: int = 8) -> KLD:
    """Measure against the base logits; a run whose output lacks the final summary is retried.

    llama.cpp logs through a queue drained by a thread that is not joined at exit, so the last
    lines (the summary) are sometimes lost, more often on a loaded machine; the numbers are
    deterministic, so a retry gives the same values.
    """
    args = [tool("llama-perplexity"), "-m", str(model), "--kl-divergence-base", str(base), "--kl-divergence",
            "-t", str(threads)]
    attempts = 0

    def complete(out: str) -> bool:
        nonlocal attempts
        attempts += 1
        return parse_kld(out) is not None

    out = run_until(args, log_path, complete, retries)
    return KLD(**parse_kld(out), attempts=attempts)
