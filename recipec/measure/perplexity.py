"""Running the real llama-perplexity: the base logits once, then KL divergences against them.

llama.cpp logs through a queue drained by a thread that is not joined at exit, so a run sometimes
ends before its final summary reaches the output (more often on a loaded machine). The numbers are
deterministic, so a run that exits cleanly without its summary is run again, a bounded number of
times; a run that fails (non-zero exit, no summary) is an error at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from recipec.diagnostics import error

DEFAULT_RETRIES = 4  # runs again after the first, when the summary is missing
_F = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
_PM = r"\s*(?:±|\+/-)\s*"
_FINAL = re.compile(rf"^.*Final estimate: PPL = {_F}{_PM}{_F}", re.M)
_SUMMARY = {
    "kld": re.compile(rf"^Mean\s+KLD:\s*{_F}{_PM}{_F}", re.M),
    "kld_p99": re.compile(rf"^99\.0%\s+KLD:\s*{_F}", re.M),
    "same_top": re.compile(rf"^Same top p:\s*{_F}{_PM}{_F}\s*%", re.M),
}


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def find_binary(arg: Optional[str], beside: Optional[str] = None) -> str:
    """--llama-perplexity, else $LLAMA_PERPLEXITY, else beside llama-quantize, else on PATH (U003)."""
    hint = "build llama.cpp's llama-perplexity and pass it with --llama-perplexity PATH"
    explicit = arg or os.environ.get("LLAMA_PERPLEXITY")
    if explicit:
        if not _executable(explicit):
            raise error("U003", f"llama-perplexity not found or not executable: {explicit}", hint=hint)
        return explicit
    near = str(Path(beside).with_name("llama-perplexity")) if beside else None
    found = near if near and _executable(near) else shutil.which("llama-perplexity")
    if not found:
        raise error("U003", "llama-perplexity not found (no --llama-perplexity, no $LLAMA_PERPLEXITY, "
                            "not beside llama-quantize, not on PATH)", hint=hint)
    return found


@dataclass(frozen=True)
class Runner:
    """How llama-perplexity is run."""

    binary: str
    threads: Optional[int] = None
    retries: int = DEFAULT_RETRIES

    def _common(self) -> list[str]:
        return ["-t", str(self.threads)] if self.threads else []


def parse_kld(text: str) -> Optional[dict]:
    """The KL-divergence summary's numbers as printed (None: the summary is not all there)."""
    found = {k: rx.search(text) for k, rx in _SUMMARY.items()}
    if any(m is None for m in found.values()):
        return None
    return {"kld": float(found["kld"].group(1)), "kld_err": float(found["kld"].group(2)),
            "kld_p99": float(found["kld_p99"].group(1)), "same_top": float(found["same_top"].group(1)),
            "kld_text": " ".join(found["kld"].group(0).split())}


def parse_base(text: str) -> Optional[dict]:
    """The base run's final perplexity (None: not printed)."""
    m = _FINAL.search(text)
    return None if m is None else {"ppl": float(m.group(1)), "ppl_err": float(m.group(2))}


def _run_until(runner: Runner, args: Sequence[str], parse: Callable[[str], Optional[dict]],
               log: Path, what: str) -> dict:
    """Run ARGS until PARSE finds the summary; its numbers plus attempts and seconds."""
    start = time.monotonic()
    for attempt in range(1, runner.retries + 2):
        try:
            proc = subprocess.run([runner.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace")
        except OSError as exc:
            raise error("U003", f"cannot run {runner.binary}: {exc.strerror or exc}",
                        hint="pass a working llama-perplexity with --llama-perplexity PATH") from None
        log.write_text(proc.stdout, encoding="utf-8")
        got = parse(proc.stdout)
        if got is not None:
            return {**got, "attempts": attempt, "seconds": round(time.monotonic() - start, 3)}
        if proc.returncode != 0:
            tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-3:]
            raise error("U002", f"llama-perplexity failed on {what} (exit {proc.returncode}); log {log}",
                        hint="see its last lines below", notes=tuple(tail))
    raise error("U002", f"llama-perplexity printed no summary for {what} in {runner.retries + 1} runs; log {log}",
                hint="run it by hand with the arguments in the log, or on a less loaded machine")


def base_logits(runner: Runner, model: Path, text: Path, out: Path, ctx: int, chunks: Optional[int]) -> dict:
    """The unquantized model's logits of TEXT into OUT (atomically); its perplexity, attempts, seconds."""
    tmp = out.with_name(out.name + ".part")
    args = ["-m", str(model), "-f", str(text), "-c", str(ctx), *(["--chunks", str(chunks)] if chunks else []),
            *runner._common(), "--kl-divergence-base", str(tmp)]
    got = _run_until(runner, args, parse_base, out.with_name(out.name + ".log"), "the base logits")
    if not tmp.is_file():
        raise error("U002", f"llama-perplexity wrote no base logits to {tmp}")
    os.replace(tmp, out)
    return got


def kl_divergence(runner: Runner, model: Path, base: Path, log: Path, what: str) -> dict:
    """Mean KLD (±, p99, same top) of MODEL against the BASE logits; attempts, seconds."""
    args = ["-m", str(model), *runner._common(), "--kl-divergence-base", str(base), "--kl-divergence"]
    return _run_until(runner, args, parse_kld, log, what)


def version(runner: Runner) -> str:
    """llama.cpp's version line, as llama-perplexity prints it."""
    try:
        proc = subprocess.run([runner.binary, "--version"], capture_output=True, text=True, errors="replace")
    except OSError:
        return "unknown"
    m = re.search(r"^version: (.*)$", proc.stdout + proc.stderr, re.M)
    return m.group(1).strip() if m else "unknown"
