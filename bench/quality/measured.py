"""Measured error files for the bench: `recipec measure` on the F16 model, one file per mode.

Modes (`BenchConfig.measured`):

* `t2`: the measured weight-space error t²(tensor, type) alone, for every type of the bench's
  ladder (a type the file did not measure is not a candidate for the plan).
* `probes`: the same plus KLD probes (`recipec measure … --kld TEXT`) on the probe text, which is
  neither the evaluation text nor the imatrix (calibration) text, at the configured granularity;
  `probes-role`, `probes-band`, `probes-tensor` name the granularity.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import tools
from .cache import Stage, stage_key
from .model_stage import log

MODES = {"t2": "measured t²", "probes": "measured t² + KLD probes",
         "probes-role": "measured t² + KLD probes per role", "probes-band": "measured t² + KLD probes per role × band",
         "probes-tensor": "measured t² + KLD probes per tensor"}


def granularity(mode: str, default: str) -> str | None:
    """The probe granularity of a mode: `probes` uses the configured one, `probes-band` says it."""
    if not mode.startswith("probes"):
        return None
    return mode.split("-", 1)[1] if "-" in mode else default


def kld_probes_available(env: dict) -> bool:
    """Whether this recipec's `measure` takes `--kld TEXT` (the KLD probes)."""
    proc = subprocess.run([sys.executable, "-m", "recipec", "measure", "--help"], capture_output=True, text=True,
                          env={**os.environ, **env})
    return "--kld" in proc.stdout


@dataclass(frozen=True)
class MeasureJob:
    """What `recipec measure` runs on: the F16 model, its imatrix, the probe text, the settings."""

    model: Path
    imatrix: Path
    probe_text: str
    ladder: tuple[str, ...]
    probe: str  # probe granularity: role, band or tensor
    probe_chunks: int  # 0: the whole probe text
    ctx: int
    threads: int


def errors_stage(mode: str, job: MeasureJob, base_key: str, recipec_key: str, env: dict, root: Path) -> dict | None:
    """The error file of MODE (measured once, cached): {"path", "sha256", "seconds", "mode"}, or None.

    None when the mode cannot run with this recipec (the probes before `measure --kld` exists).
    A failed run is retried: `recipec measure` resumes from its work directory, which is kept.
    """
    ladder, probe_text = job.ladder, job.probe_text
    if mode not in MODES:
        raise ValueError(f"unknown measured mode {mode!r} (known: {', '.join(MODES)})")
    probe = granularity(mode, job.probe)
    probe_sha = hashlib.sha256(probe_text.encode()).hexdigest() if probe else ""
    if probe:
        if not probe_text:
            raise ValueError("the probes mode needs a probe text: set Corpus.probe_bytes")
        if not kld_probes_available(env):
            log("measure: this recipec's `measure` has no --kld (KLD probes); "
                "the 'measured + probes' variant is skipped")
            return None
    settings = ["probes" if probe else mode, " ".join(ladder)]
    if probe:
        settings += [probe_sha, probe, str(job.probe_chunks), str(job.ctx)]
    key = stage_key("measure", base_key, *settings, recipec_key, code=("measured.py",))
    st = Stage(root, key)
    if not st.done:
        d = st.dir
        d.mkdir(parents=True, exist_ok=True)  # not Stage.begin(): the work directory is the resume point
        args = [sys.executable, "-m", "recipec", "measure", str(job.model), "--imatrix", str(job.imatrix),
                "-o", str(d / "errors.json"), "--types", *ladder, "--llama-quantize", tools.tool("llama-quantize"),
                "--work", str(d / "work")]
        if probe:
            (d / "probe.txt").write_text(probe_text)
            args += ["--kld", str(d / "probe.txt"), "--probe", probe, "--ctx", str(job.ctx),
                     "--threads", str(job.threads), "--llama-perplexity", tools.tool("llama-perplexity")]
            if job.probe_chunks:
                args += ["--chunks", str(job.probe_chunks)]
        log(f"recipec measure ({MODES[mode]}{', probes per ' + probe if probe else ''}, "
            f"types {' '.join(ladder)})")
        t0 = time.time()
        _run_resuming(args, d / "measure.log", env)
        seconds = round(time.time() - t0, 1)
        info = {"mode": mode, "seconds": seconds, "sha256": hashlib.sha256((d / "errors.json").read_bytes()).hexdigest()}
        (d / "measure.json").write_text(json.dumps(info, indent=1))
        st.finish()
        log(f"  measured in {seconds:.0f} s")
    info = json.loads(st.path("measure.json").read_text())
    return {**info, "path": str(st.path("errors.json"))}


def _run_resuming(args: list[str], log_path: Path, env: dict, attempts: int = 3) -> None:
    """Run `recipec measure`; when it fails (llama-perplexity losing its summary under load), resume."""
    for attempt in range(1, attempts + 1):
        try:
            tools.run(args, log_path, env=env)
            return
        except tools.ToolError as exc:
            if attempt == attempts:
                raise
            log(f"  recipec measure failed (attempt {attempt}), resuming: {str(exc).splitlines()[0]}")
            time.sleep(10 * attempt)
