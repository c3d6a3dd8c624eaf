"""bench-mtp.sh against the real llama-server: a release of the qwen35moe fixture (one variant keeps
its MTP block, one drops it) quantized with llama-quantize, then target-only and draft-mtp runs at
n_max 1 and 2. Random weights accept few drafts; every number is checked against what the server
itself reported (each response's timings, /metrics, and its own log), and the server must be gone
after a success, a failure and an interruption."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from recipec.plan import Plan
from tests.kit_helpers import BASH, script_env, tool_dir
from tests.release_helpers import KIND, RECIPES, compile_release, write_recipes

pytestmark = pytest.mark.llama
MTP_RECIPES = {k: RECIPES[k] for k in ("q4km-mtp", "q3km-nomtp")}
ARGS = ("--requests", "3", "--max-tokens", "24", "--threads", "2")
# llama-server's own line per finished request with drafts (tools/server/server-context.cpp)
ACCEPTANCE = re.compile(r"draft acceptance = [0-9.]+ \(\s*(\d+) accepted /\s*(\d+) generated\), mean len")


def _run(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script), *args], env=env, capture_output=True, text=True, timeout=300)


def _gguf(rel: Path, name: str) -> Path:
    return rel / name / Plan.load(str(rel / name / "plan.lock.json")).llama_quantize.output


def _shown(x: float) -> str:
    """A number as the card shows it: exactly as stored (card._num)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _servers_on(path: Path) -> list[int]:
    """Processes whose command line names PATH (a GGUF: only llama-server is given it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def benched(tmp_path_factory, fixture_model, fixture_imatrix, llama_quantize, llama_server):
    d = tmp_path_factory.mktemp("release-mtp")
    model, imatrix = fixture_model(KIND), fixture_imatrix(KIND, nextn=True)
    rc, err = compile_release(write_recipes(d / "recipes", MTP_RECIPES), model, imatrix, d / "rel")
    assert rc == 0, err
    rel = d / "rel"
    unmeasured_card = (rel / "README.md").read_text()
    env = script_env(tool_dir(d / "bin"), LLAMA_QUANTIZE=str(llama_quantize), LLAMA_SERVER=str(llama_server))
    q = _run(rel / "quantize-all.sh", env, "--model", str(model), "--imatrix", str(imatrix), "--no-card")
    assert q.returncode == 0, q.stderr
    first = _run(rel / "bench-mtp.sh", env, *ARGS)
    logs = {p.name: p.stat().st_mtime_ns for p in (rel / "metrics").glob("*.log")}
    record = (rel / "metrics" / "q4km-mtp.mtp.json").read_bytes() if first.returncode == 0 else b""
    again = _run(rel / "bench-mtp.sh", env, *ARGS)
    return {"dir": d, "rel": rel, "env": env, "first": first, "again": again, "logs": logs, "record": record,
            "unmeasured_card": unmeasured_card, "left": _servers_on(_gguf(rel, "q4km-mtp"))}


def test_only_variants_that_keep_an_mtp_block_are_benched(benched):
    first, rel = benched["first"], benched["rel"]
    assert first.returncode == 0, first.stderr
    assert "[1/1] q4km-mtp: target only" in first.stderr
    assert "[1/1] q4km-mtp: draft-mtp n_max 1" in first.stderr and "draft-mtp n_max 2" in first.stderr
    assert "summary: 1 measured, 0 measured before, 0 failed" in first.stderr
    assert "q3km-nomtp" not in (rel / "bench-mtp.sh").read_text()
    assert sorted(p.name for p in (rel / "metrics").iterdir()) == [
        "q4km-mtp.mtp-draft1.log", "q4km-mtp.mtp-draft2.log", "q4km-mtp.mtp-target.log", "q4km-mtp.mtp.json"]
    help_ = _run(rel / "bench-mtp.sh", benched["env"], "--help")
    assert help_.returncode == 0 and help_.stdout.startswith("usage: bench-mtp.sh")
    assert "variants with an MTP block: q4km-mtp\n" in help_.stdout
    bogus = _run(rel / "bench-mtp.sh", benched["env"], "--bogus")
    assert bogus.returncode == 2 and "unknown option: --bogus" in bogus.stderr
    bad = _run(rel / "bench-mtp.sh", benched["env"], "--n-max", "1 x")
    assert bad.returncode == 2 and "N_MAX must be positive numbers" in bad.stderr


def test_the_metrics_are_the_servers_own_counters(benched):
    rel = benched["rel"]
    m = json.loads((rel / "metrics" / "q4km-mtp.mtp.json").read_text())
    assert m["schema"] == "recipec.mtp/1" and m["requests"] == 3 and m["max_tokens"] == 24
    assert m["file_bytes"] == _gguf(rel, "q4km-mtp").stat().st_size and m["n_max_list"] == "1 2"
    runs = {r["n_max"]: r for r in m["runs"]}
    assert [r["spec"] for r in m["runs"]] == ["none", "draft-mtp", "draft-mtp"] and sorted(runs) == [0, 1, 2]
    target = runs[0]
    assert target["draft_n"] == 0 and target["acceptance"] is None and target["speedup"] == 1.0
    assert not ACCEPTANCE.search((rel / "metrics" / "q4km-mtp.mtp-target.log").read_text())
    for n_max, label in ((1, "draft1"), (2, "draft2")):
        r, log = runs[n_max], (rel / "metrics" / f"q4km-mtp.mtp-{label}.log").read_text()
        assert "creating MTP draft context" in log  # the server drafted with the variant's MTP block
        # the server logs a line per request that drafted; the first is the warm-up, not counted
        per_request = ACCEPTANCE.findall(log)[1:]
        assert len(r["per_request"]) == 3 and per_request
        # the response timings, the server's log and its /metrics counters agree
        assert [(int(a), int(g)) for a, g in per_request] == [(t["draft_n_accepted"], t["draft_n"])
                                                              for t in r["per_request"] if t.get("draft_n")]
        assert r["draft_n"] == sum(int(g) for _, g in per_request) == r["spec_decode_num_draft_tokens"] > 0
        assert r["draft_n_accepted"] == r["spec_decode_num_accepted_tokens"] == sum(r["accepted_per_pos"])
        steps = r["spec_decode_num_drafts"]
        # /metrics has a counter per draft position: as many as the n_max the server ran with
        assert 0 < steps <= r["draft_n"] <= n_max * steps and len(r["accepted_per_pos"]) == n_max
        assert r["acceptance"] == round(r["draft_n_accepted"] / r["draft_n"], 4)
        assert r["mean_accepted_length"] == round(1 + r["draft_n_accepted"] / steps, 4)
        assert r["acceptance_by_position"] == [round(p / steps, 4) for p in r["accepted_per_pos"]]
        assert r["speedup"] == round(r["tok_s"] / target["tok_s"], 4)
    for r in m["runs"]:
        assert r["predicted_n"] == sum(t["predicted_n"] for t in r["per_request"]) <= 3 * 24
        assert r["tok_s"] == round(1000 * r["predicted_n"] / sum(t["predicted_ms"] for t in r["per_request"]), 2)


def test_the_server_is_gone_and_a_second_run_resumes(benched):
    assert benched["left"] == []
    again, rel = benched["again"], benched["rel"]
    assert again.returncode == 0, again.stderr
    assert "[1/1] q4km-mtp: measured already" in again.stderr
    assert "summary: 0 measured, 1 measured before, 0 failed" in again.stderr
    assert (rel / "metrics" / "q4km-mtp.mtp.json").read_bytes() == benched["record"]
    assert {p.name: p.stat().st_mtime_ns for p in (rel / "metrics").glob("*.log")} == benched["logs"]


def test_the_card_shows_the_mtp_table(benched):
    rel = benched["rel"]
    card = (rel / "README.md").read_text()
    m = json.loads((rel / "metrics" / "q4km-mtp.mtp.json").read_text())
    table = card[card.index("## MTP speed"):card.index("## Bits per weight")]
    rows = [ln for ln in table.splitlines() if ln.startswith("| q4km-mtp |")]
    assert len(rows) == 3 and "q3km-nomtp" not in table
    target, d1, d2 = m["runs"]
    assert rows[0].startswith(f"| q4km-mtp | target only | {target['predicted_n']} in 3 requests | "
                              f"{_shown(target['tok_s'])} | 1 |")
    for row, r in ((rows[1], d1), (rows[2], d2)):
        by_pos = ", ".join(_shown(p) for p in r["acceptance_by_position"])
        assert (f"| draft-mtp, n_max {r['n_max']} | {r['predicted_n']} in 3 requests | {_shown(r['tok_s'])} | "
                f"{_shown(r['speedup'])} | {_shown(r['acceptance'])} (") in row
        assert f"({r['draft_n_accepted']} of {r['draft_n']}) | " in row and row.endswith(f"| {by_pos} |")
    try:
        from pymarkdown.api import PyMarkdownApi
    except ImportError:
        PyMarkdownApi = None
    if PyMarkdownApi is not None:  # as tests/test_release_render.py lints the card
        result = (PyMarkdownApi().enable_extension_by_identifier("front-matter").disable_rule_by_identifier("md013")
                  .scan_path(str(rel / "README.md")))
        assert not result.scan_failures, [str(f) for f in result.scan_failures]
    # before bench-mtp.sh ran, the same table said "not measured"
    before = benched["unmeasured_card"]
    assert "| q4km-mtp | not measured | not measured |" in before and "run bench-mtp.sh" in before


def test_a_variant_whose_server_fails_is_reported_and_no_server_is_left(benched, tmp_path):
    rel = tmp_path / "rel"
    shutil.copytree(benched["rel"], rel)
    shutil.rmtree(rel / "metrics")
    gguf = _gguf(rel, "q4km-mtp")
    gguf.write_bytes(b"GGUF" + b"\0" * 64)  # llama-server cannot load it
    proc = _run(rel / "bench-mtp.sh", benched["env"], *ARGS, "--no-card")
    assert proc.returncode == 1, proc.stderr
    assert "llama-server exited before it was ready" in proc.stderr
    assert "[1/1] q4km-mtp: FAILED" in proc.stderr and "summary: 0 measured, 0 measured before, 1 failed" in proc.stderr
    assert not (rel / "metrics" / "q4km-mtp.mtp.json").exists() and not list((rel / "metrics").glob("*.tmp"))
    assert _servers_on(gguf) == []


def test_an_interrupted_bench_stops_its_server(benched, tmp_path):
    rel = tmp_path / "rel"
    shutil.copytree(benched["rel"], rel)
    shutil.rmtree(rel / "metrics")
    proc, _ = _start_and_wait(rel, benched["env"])
    os.kill(proc.pid, signal.SIGTERM)  # the script only, mid-request: its trap must stop the server
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, err
    deadline = time.monotonic() + 10
    while _servers_on(_gguf(rel, "q4km-mtp")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers_on(_gguf(rel, "q4km-mtp")) == [] and "[1/1] q4km-mtp: target only" in err
    assert not (rel / "metrics" / "q4km-mtp.mtp.json").exists()


def test_a_release_without_an_mtp_block_says_so(benched, tmp_path):
    from recipec.release.scripts import Variant, render_release

    plan_path = benched["rel"] / "q3km-nomtp" / "plan.lock.json"
    plan = Plan.load(str(plan_path))
    files = render_release([Variant("q3km-nomtp", plan, plan_path.read_text())])
    script = tmp_path / "bench-mtp.sh"
    script.write_text(files["bench-mtp.sh"])
    assert "VARIANTS=(\n)" in files["bench-mtp.sh"]
    proc = _run(script, benched["env"])
    assert proc.returncode == 0 and "no variant of this release keeps an MTP block: nothing to measure" in proc.stderr
    assert not (tmp_path / "metrics").exists()


def _start_and_wait(rel: Path, env: dict) -> tuple[subprocess.Popen, list[int]]:
    """bench-mtp.sh on many requests, once its target-only server has answered a few of them."""
    log = rel / "metrics" / "q4km-mtp.mtp-target.log"
    proc = subprocess.Popen([BASH, str(rel / "bench-mtp.sh"), "--requests", "1000", "--max-tokens", "64",
                             "--threads", "2", "--no-card"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not (
            log.exists() and log.read_text(errors="replace").count("print_timing") >= 3):
        time.sleep(0.1)
    servers = _servers_on(_gguf(rel, "q4km-mtp"))
    assert proc.poll() is None and len(servers) == 1, proc.communicate()[1] if proc.poll() is not None else servers
    return proc, servers


def test_a_server_killed_mid_request_fails_the_variant(benched, tmp_path):
    rel = tmp_path / "rel"
    shutil.copytree(benched["rel"], rel)
    shutil.rmtree(rel / "metrics")
    proc, servers = _start_and_wait(rel, benched["env"])
    os.kill(servers[0], signal.SIGKILL)  # the server dies under a request
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 1, err
    assert "mtpbench.py: a request failed" in err and "[1/1] q4km-mtp: FAILED" in err
    assert "summary: 0 measured, 0 measured before, 1 failed" in err
    assert _servers_on(_gguf(rel, "q4km-mtp")) == [] and not (rel / "metrics" / "q4km-mtp.mtp.json").exists()


def test_an_mtp_metrics_file_of_another_plan_is_not_shown(benched, tmp_path):
    from recipec.release.card import write_card

    rel = tmp_path / "rel"
    shutil.copytree(benched["rel"], rel)
    path = rel / "metrics" / "q4km-mtp.mtp.json"
    path.write_text(path.read_text().replace(json.loads(path.read_text())["plan_sha256"], "0" * 64))
    release = write_card(str(rel))
    assert [w.code for w in release.warnings] == ["U002"] and "another plan" in release.warnings[0].message
    assert "| q4km-mtp | not measured | not measured |" in (rel / "README.md").read_text()
