"""A four-variant release of the qwen35moe fixture (one variant keeps its MTP block) through the
real llama.cpp tools: quantize-all.sh with llama-quantize (resumed after a kill, one variant
failing while the others complete), then eval.sh with llama-perplexity (a lost summary run again,
resumed without redoing), then the card from the metrics it wrote."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from recipec.plan import Plan
from recipec.release import kldlog
from recipec.verify import verify
from tests.kit_helpers import BASH, script_env, tool_dir
from tests.release_helpers import KIND, RECIPES, compile_release, write_recipes

pytestmark = pytest.mark.llama
WORDS = "the of and to in is was for on that with as it by at from his an were are which this be".split()


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixture_model, fixture_imatrix, llama_quantize):
    """A compiled release, the tools and the environment to run its scripts in."""
    d = tmp_path_factory.mktemp("release-tools")
    model, imatrix = fixture_model(KIND), fixture_imatrix(KIND, nextn=True)
    rc, err = compile_release(write_recipes(d / "recipes"), model, imatrix, d / "rel")
    assert rc == 0, err
    env = script_env(tool_dir(d / "bin"), LLAMA_QUANTIZE=str(llama_quantize))
    return {"dir": d, "rel": d / "rel", "model": model, "imatrix": imatrix, "env": env}


def _run(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script), *args], env=env, capture_output=True, text=True, timeout=600)


def _gguf(rel: Path, name: str) -> Path:
    return rel / name / Plan.load(str(rel / name / "plan.lock.json")).llama_quantize.output


def _killed_once_started(script: Path, args, env: dict, marker: Path) -> str:
    """Run SCRIPT, SIGTERM its process group as soon as MARKER appears (the slow variant began);
    its stderr."""
    proc = subprocess.Popen([BASH, str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate()[1] if proc.poll() is not None else "the slow variant never started"
    os.killpg(proc.pid, signal.SIGTERM)
    return proc.communicate(timeout=60)[1]


def _slow_quantize(folder: Path, real: Path, slow: str, marker: Path) -> Path:
    """A llama-quantize that, writing variant SLOW for real, touches MARKER and waits to be killed."""
    script = folder / "llama-quantize"
    script.write_text(f"""#!/bin/sh
case "$*" in *--dry-run*) ;; *"/{slow}/"*) : > "{marker}"; sleep 300 ;; esac
exec "{real}" "$@"
""")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def quantized(built, llama_quantize):
    """quantize-all.sh killed in the middle of the last variant, then run again to the end."""
    rel, env = built["rel"], built["env"]
    args = ("--model", str(built["model"]), "--imatrix", str(built["imatrix"]), "--threads", "2")
    marker = built["dir"] / "slow.started"
    slow = _slow_quantize(tool_dir(built["dir"] / "slowbin", recipec=False, python3=False), llama_quantize,
                          "bpw55", marker)
    first_err = _killed_once_started(rel / "quantize-all.sh", args, {**env, "LLAMA_QUANTIZE": str(slow)}, marker)
    killed = {n: _gguf(rel, n).exists() for n in RECIPES}
    leftovers = sorted(str(p) for p in rel.rglob("*.partial*"))
    mtimes = {n: _gguf(rel, n).stat().st_mtime_ns for n in RECIPES if killed[n]}
    second = _run(rel / "quantize-all.sh", env, *args)
    return {"killed": killed, "leftovers": leftovers, "first_err": first_err, "second": second, "mtimes": mtimes}


def test_a_killed_run_resumes_without_redoing_finished_variants(quantized, built):
    rel = built["rel"]
    assert quantized["killed"] == {"q4km-mtp": True, "q8": True, "q3km-nomtp": True, "bpw55": False}
    assert quantized["leftovers"] == []  # the killed variant left no partial file
    second = quantized["second"]
    assert second.returncode == 0, second.stderr
    for i, name in enumerate(["q4km-mtp", "q8", "q3km-nomtp"], 1):
        assert f"[{i}/4] {name}: done already" in second.stderr
        assert _gguf(rel, name).stat().st_mtime_ns == quantized["mtimes"][name]
    assert "[4/4] bpw55: quantizing into" in second.stderr and "[4/4] bpw55: done in" in second.stderr
    assert "summary: 1 quantized, 3 done already, 0 failed" in second.stderr
    for name in RECIPES:  # every file is the one its plan says
        assert verify(Plan.load(str(rel / name / "plan.lock.json")), [str(_gguf(rel, name))]) == []
    assert "next: q8" in quantized["first_err"] and "next: the summary" in second.stderr


def test_a_failing_variant_is_reported_and_the_others_complete(built, tmp_path):
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(built["rel"], rel)
    for name in RECIPES:  # start from nothing quantized
        _gguf(rel, name).unlink(missing_ok=True)
    # q8's rules no longer give the planned types: its dry-run gate stops it
    (rel / "q8" / "tensor-types.txt").write_text("ffn=q4_0\n")
    card = (rel / "README.md").read_bytes()
    proc = _run(rel / "quantize-all.sh", built["env"], "--model", str(built["model"]), "--imatrix",
                str(built["imatrix"]), "--no-card")
    assert proc.returncode == 1, proc.stderr
    assert "[2/4] q8: FAILED" in proc.stderr and "FAILED      q8" in proc.stderr
    assert "summary: 3 quantized, 0 done already, 1 failed" in proc.stderr
    assert not _gguf(rel, "q8").exists()
    assert all(_gguf(rel, n).exists() for n in RECIPES if n != "q8")
    assert (rel / "README.md").read_bytes() == card  # --no-card: the card is left as it was


def _cutting_perplexity(folder: Path, real: Path, log: Path) -> Path:
    """A llama-perplexity that logs its calls to LOG and drops the KL summary of the first KLD run."""
    script = folder / "llama-perplexity"
    script.write_text(f"""#!/bin/sh
echo "$*" >> "{log}"
case "$*" in *" --kl-divergence")
    if [ ! -e "{log}.cut" ]; then : > "{log}.cut"; "{real}" "$@" 2>&1 | sed '/KL divergence statistics/,$d'; exit 0; fi ;;
esac
exec "{real}" "$@"
""")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def evaluated(built, quantized, llama_perplexity):
    d = built["dir"]
    rng = random.Random(13)
    text = d / "text.txt"
    text.write_text(" ".join(rng.choice(WORDS) for _ in range(1500)) + "\n")
    calls = d / "ppl-calls.log"
    ppl = _cutting_perplexity(tool_dir(d / "pplbin", recipec=False, python3=False), llama_perplexity, calls)
    env = {**built["env"], "LLAMA_PERPLEXITY": str(ppl), "TEXT": str(text), "RETRIES": "5"}
    args = ("--model", str(built["model"]), "--ctx", "128", "--chunks", "4", "--threads", "2")
    first = _run(built["rel"] / "eval.sh", env, *args)
    n_calls = len(calls.read_text().splitlines())
    again = _run(built["rel"] / "eval.sh", env, *args)
    return {"first": first, "again": again, "calls": calls, "n_calls": n_calls, "text": text}


def test_eval_measures_every_variant_into_metrics(evaluated, built):
    first, rel = evaluated["first"], built["rel"]
    assert first.returncode == 0, first.stderr
    assert "[1/4] q4km-mtp: llama-perplexity ended without its summary; running it again (1 of 5)" in first.stderr
    assert "summary: 4 measured, 0 measured before, 0 failed" in first.stderr
    import hashlib

    sha = hashlib.sha256(evaluated["text"].read_bytes()).hexdigest()
    metrics = {}
    for name in RECIPES:
        m = json.loads((rel / "metrics" / f"{name}.json").read_text())
        # every number is the one llama-perplexity printed (the log kept beside it)
        assert {k: m[k] for k in kldlog.parse((rel / "metrics" / f"{name}.log").read_text())} == \
            kldlog.parse((rel / "metrics" / f"{name}.log").read_text())
        assert m["text_sha256"] == sha and m["ctx"] == 128 and m["chunks"] == 4 and m["variant"] == name
        assert m["plan_sha256"] == hashlib.sha256((rel / name / "plan.lock.json").read_bytes()).hexdigest()
        assert m["file_bytes"] == _gguf(rel, name).stat().st_size and m["llama_cpp"] != ""
        assert m["kld"] >= 0 and 0 <= m["same_top"] <= 100 and m["kld_p95"] <= m["kld_p99"] <= m["kld_max"]
        metrics[name] = m
    assert metrics["q8"]["kld"] < metrics["q3km-nomtp"]["kld"]  # 8 bits stay closer than 3
    assert not list((rel / "metrics").glob("*.tmp"))


def test_eval_resumes_without_running_again(evaluated):
    again = evaluated["again"]
    assert again.returncode == 0, again.stderr
    assert "base logits: done already" in again.stderr
    assert "summary: 0 measured, 4 measured before, 0 failed" in again.stderr
    calls = evaluated["calls"].read_text().splitlines()
    assert all(c == "--version" for c in calls[evaluated["n_calls"]:])


def test_the_card_shows_the_measured_numbers(evaluated, built):
    rel = built["rel"]
    card = (rel / "README.md").read_text()
    for name in RECIPES:
        m = json.loads((rel / "metrics" / f"{name}.json").read_text())
        row = next(ln for ln in card[card.index("## Quality"):].splitlines() if ln.startswith(f"| {name} |"))
        assert f"| {m['kld']!r} ± {m['kld_err']!r} |" in row.replace("| 0 ±", "| 0.0 ±")
        assert f"{_gguf(rel, name).stat().st_size} |" in card
    quality = card[card.index("## Quality"):card.index("## MTP speed")]  # bench-mtp.sh has not run here
    assert "not measured" not in quality and (rel / "images" / "kld-vs-size.svg").exists()


def _slow_perplexity(folder: Path, real: Path, slow: str, marker: Path) -> Path:
    """A llama-perplexity that, measuring variant SLOW, touches MARKER and waits to be killed."""
    script = folder / "llama-perplexity"
    script.write_text(f"""#!/bin/sh
case "$*" in *"/{slow}/"*) : > "{marker}"; sleep 300 ;; esac
exec "{real}" "$@"
""")
    script.chmod(0o755)
    return script


def test_a_killed_eval_resumes_without_redoing_finished_variants(built, quantized, llama_perplexity, tmp_path):
    import shutil

    rel = tmp_path / "rel"
    shutil.copytree(built["rel"], rel)
    shutil.rmtree(rel / "metrics", ignore_errors=True)
    rng = random.Random(7)
    text = tmp_path / "text.txt"
    text.write_text(" ".join(rng.choice(WORDS) for _ in range(1500)) + "\n")
    marker = tmp_path / "slow.started"
    slow = _slow_perplexity(tool_dir(tmp_path / "slowbin", recipec=False, python3=False), llama_perplexity,
                            "q3km-nomtp", marker)
    env = {**built["env"], "TEXT": str(text), "RETRIES": "5"}
    args = ("--model", str(built["model"]), "--ctx", "128", "--chunks", "4", "--threads", "2", "--no-card")
    _killed_once_started(rel / "eval.sh", args, {**env, "LLAMA_PERPLEXITY": str(slow)}, marker)
    done = sorted(p.name for p in (rel / "metrics").glob("*.json"))
    assert done == ["q4km-mtp.json", "q8.json"]
    before = {n: (rel / "metrics" / n).read_bytes() for n in done}
    again = _run(rel / "eval.sh", {**env, "LLAMA_PERPLEXITY": str(llama_perplexity)}, *args)
    assert again.returncode == 0, again.stderr
    assert "base logits: done already" in again.stderr
    assert "[1/4] q4km-mtp: measured already" in again.stderr and "[2/4] q8: measured already" in again.stderr
    assert "summary: 2 measured, 2 measured before, 0 failed" in again.stderr
    assert {n: (rel / "metrics" / n).read_bytes() for n in done} == before
    assert sorted(p.name for p in (rel / "metrics").glob("*.json")) == sorted(f"{n}.json" for n in RECIPES)
