"""The generated scripts, run for real: quantize.sh on the real llama-quantize, serve.sh on llama-server.

Their static checks (bash -n, shellcheck, bash 3.2 portability) are in test_script_portability.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from glob import escape as glob_escape
from pathlib import Path

import gguf
import pytest

from recipec import fixtures
from tests.ci import in_ci
from tests.kit_helpers import BASH, compile_kit, recipec_cli, run_script, script_env, tool_dir

pytestmark = pytest.mark.llama

RECIPES = {
    "llama": 'recipe "e2e-llama"\narch llama\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\n'
             "budget 6.5 bpw\npin output Q8_0\n",
    "qwen35moe": 'recipe "e2e-qwen35moe"\narch qwen35moe\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\n'
                 "budget 5.6 bpw\nmtp keep Q6_K\ntarget cpu\nserve ctx 512\nserve spec mtp 2\n",
    # GLM-4.5's layout: the MTP block holds its own embedding and head (nextn.embed_tokens, shared_head_head)
    "glm4moe": 'recipe "e2e-glm4moe"\narch glm4moe\nbase IQ4_XS\nladder IQ4_XS Q4_K Q5_K Q6_K Q8_0\n'
               "budget 5 bpw\nmtp keep Q8_0 outside budget\npin ffn_down_exps@first 2 Q6_K\n",
}
HOSTILE = "we ird 'q\" $(touch pwned) `touch pwned2`; x\nline"


def _kit(tmp: Path, kind: str, model: Path, recipe_text: str | None = None, name: str = "kit") -> Path:
    recipe = tmp / f"{name}.recipe"
    recipe.write_text(recipe_text or RECIPES[kind])
    out = tmp / name
    rc, err = compile_kit(recipe, model, out)
    assert rc == 0, err
    _beside(out, model)
    return out


def _beside(kit: Path, *files: Path) -> None:
    """Link FILES (every shard of a split model) into KIT, where quantize.sh looks by default."""
    for f in files:
        stem = f.name.split("-00001-of-")[0] if "-00001-of-" in f.name else f.stem
        for g in sorted(f.parent.glob(glob_escape(stem) + ("-*-of-*.gguf" if "-00001-of-" in f.name else f.suffix))):
            (kit / g.name).symlink_to(g)


@pytest.fixture
def bins(tmp_path: Path) -> Path:
    return tool_dir(tmp_path / "bin")


def _env(bins: Path, llama_quantize: Path, **extra: str) -> dict[str, str]:
    return script_env(bins, LLAMA_QUANTIZE=str(llama_quantize), THREADS="2", **extra)


@pytest.mark.parametrize("kind", ["llama", "qwen35moe", "glm4moe"])
def test_quantize_end_to_end(kind, fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, kind, fixture_model(kind))
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dry run matches the plan" in proc.stderr
    assert "wrote and verified" in proc.stderr
    plan = json.loads((kit / "plan.lock.json").read_text())
    out = kit / plan["llama_quantize"]["output"]
    assert out.is_file() and not Path(f"{out}.partial").exists()
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(out))
    assert rc == 0, err
    reader = gguf.GGUFReader(str(out))
    sha = hashlib.sha256((kit / "plan.lock.json").read_bytes()).hexdigest()
    field = reader.fields["recipec.plan_sha256"]
    assert bytes(field.parts[-1]).decode() == sha
    assert bytes(reader.fields["recipec.recipe"].parts[-1]).decode() == plan["name"]
    # the predicted size includes the provenance keys the script adds
    totals = plan["totals"]
    slack = totals["file_bytes_slack"] or 0
    assert totals["file_bytes"] - slack <= out.stat().st_size <= totals["file_bytes"] + slack, \
        (out.stat().st_size, totals["file_bytes"], slack)


def test_mtp_drop_end_to_end_checks_the_input_header(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "qwen35moe", fixture_model("qwen35moe"),
               'recipe "drop"\narch qwen35moe\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\nmtp drop\n', name="d")
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "input not checked" not in proc.stderr, proc.stderr[-2000:]  # the header check ran
    plan = json.loads((kit / "plan.lock.json").read_text())
    out = kit / plan["llama_quantize"]["output"]
    names = [t.name for t in gguf.GGUFReader(str(out)).tensors]
    assert not any(".nextn." in n for n in names) and len(names) == len(plan["tensors"])
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(out))
    assert rc == 0, err


def test_embedded_check_without_recipec(fixture_model, llama_quantize, tmp_path):
    bins = tool_dir(tmp_path / "bin", recipec=False)
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize, RECIPEC="no-such-recipec"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "verify: all 21 tensors match the plan" in proc.stderr  # recipec/filecheck.py, carried in the script
    assert "wrote and verified" in proc.stderr


def test_no_checker_says_so(fixture_model, llama_quantize, tmp_path):
    bins = tool_dir(tmp_path / "bin", recipec=False, python3=False)
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    env = _env(bins, llama_quantize, RECIPEC="no-such-recipec")
    env["PATH"] = f"{bins}:{tmp_path / 'nopython'}"
    (tmp_path / "nopython").mkdir()
    for tool in ("dirname", "nproc", "head", "sha256sum", "cut", "df", "awk", "mktemp", "rm", "sort", "wc",
                 "tail", "mv", "cat"):
        (tmp_path / "nopython" / tool).symlink_to(shutil.which(tool))
    proc = run_script(kit / "quantize.sh", env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "could not verify" in proc.stderr


def test_wrong_rules_abort_before_writing(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    rules = (kit / "tensor-types.txt").read_text().splitlines()
    # Swap the type of every rule that names attn_v (a deliberate mistake).
    wrong = [re.sub(r"=[a-z0-9_]+$", "=q4_0", r, flags=re.I) if "attn_v" in r else r for r in rules]
    if wrong == rules:  # attn_v shares a rule with others: prepend one that steals it
        wrong = [r"^blk\.0\.attn_v\.weight$=q4_0"] + rules
    (kit / "tensor-types.txt").write_text("\n".join(wrong) + "\n")
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize))
    assert proc.returncode == 1
    assert "does not match the plan; nothing written" in proc.stderr
    assert re.search(r"blk\.0\.attn_v\.weight: planned \w+, llama-quantize would write Q4_0", proc.stderr)
    assert not [p for p in kit.iterdir() if p.suffix in (".gguf", ".partial") and not p.is_symlink()]


def test_existing_output_needs_force(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    out = tmp_path / "out.gguf"
    out.write_text("keep me")
    env = _env(bins, llama_quantize, OUT=str(out))
    proc = run_script(kit / "quantize.sh", env)
    assert proc.returncode == 1 and "pass --force" in proc.stderr
    assert out.read_text() == "keep me"
    proc = run_script(kit / "quantize.sh", env, "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:4] == b"GGUF"


def test_gate_only_writes_nothing(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "qwen35moe", fixture_model("qwen35moe"))
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize), "--dry-run", "--out", str(tmp_path / "o.gguf"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dry run matches the plan (58 tensors)" in proc.stderr
    assert not (tmp_path / "o.gguf").exists()


def test_other_model_fails_the_header_check(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    other = fixtures.write_model("llama_ff1000", tmp_path / "other")
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize, MODEL=str(other)))
    assert proc.returncode == 1
    assert "header sha256" in proc.stderr and "is not the plan's" in proc.stderr
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize, MODEL=str(other)), "--no-verify-inputs")
    assert proc.returncode == 1 and "does not match the plan" in proc.stderr  # the gate still holds


def test_verify_reports_a_file_from_another_plan(fixture_model, llama_quantize, bins, tmp_path):
    model = fixture_model("llama")
    kit_a = _kit(tmp_path, "llama", model, name="a")
    kit_b = _kit(tmp_path, "llama", model, RECIPES["llama"] + "pin ffn_down Q4_K\npin attn_q Q5_K\n", name="b")
    out = tmp_path / "a.gguf"
    proc = run_script(kit_a / "quantize.sh", _env(bins, llama_quantize, OUT=str(out)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rc, text, err = recipec_cli("verify", str(kit_b / "plan.lock.json"), str(out))
    assert rc == 1
    assert re.search(r"blk\.0\.attn_q\.weight: type planned Q5_K, file has (?!Q5_K)", text), text
    assert "differ from the plan" in err


def test_hostile_names_and_paths(fixture_model, llama_quantize, bins, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    hostile_dir = tmp_path / HOSTILE
    hostile_dir.mkdir()
    model = hostile_dir / "-m $(touch pwned3).gguf"
    shutil.copy(fixture_model("llama"), model)
    recipe = hostile_dir / "r.recipe"
    recipe.write_text('recipe "x\' $(touch pwned4) `touch pwned5`; rm -rf ~ #"\n'
                      "arch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n")
    kit = hostile_dir / "kit $(touch pwned6)"
    rc, err = compile_kit(recipe, model, kit)
    assert rc == 0, err
    _beside(kit, model)
    for script in ("quantize.sh", "serve.sh"):
        assert subprocess.run(["bash", "-n", str(kit / script)]).returncode == 0
    out = hostile_dir / "-out `touch pwned7` $(touch pwned8);.gguf"
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize, OUT=str(out)), cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.is_file()
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), str(out))
    assert rc == 0, err
    # Flags carry hostile paths intact too.
    out2 = hostile_dir / "$(touch pwned9)\n.gguf"
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize), "--model", str(model), "--out", str(out2),
                      cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out2.is_file()
    name = bytes(gguf.GGUFReader(str(out2)).fields["recipec.recipe"].parts[-1]).decode()
    assert name == "x' $(touch pwned4) `touch pwned5`; rm -rf ~ #"
    planted = [p for p in tmp_path.rglob("pwned*")] + [p for p in Path.cwd().glob("pwned*")]
    assert not planted


def test_sigint_leaves_no_output(fixture_model, llama_quantize, bins, tmp_path):
    # llama-quantize on the fixtures takes milliseconds: a wrapper keeps the real run's process
    # alive afterwards, so the signal lands while the partial file exists.
    slow = tmp_path / "slow-quantize"
    slow.write_text(f'#!/bin/sh\ncase " $* " in *" --help "*|*" --dry-run "*) exec {llama_quantize} "$@";; esac\n'
                    f'{llama_quantize} "$@" || exit $?\nexec sleep 60\n')
    slow.chmod(0o755)
    kit = _kit(tmp_path, "llama", fixture_model("llama"))
    out = tmp_path / "out.gguf"
    partial = Path(f"{out}.partial")
    proc = subprocess.Popen([BASH, str(kit / "quantize.sh")], env=_env(bins, slow, OUT=str(out)),
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not partial.exists() or partial.stat().st_size == 0:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the partial file never appeared"
            time.sleep(0.05)
        time.sleep(0.5)  # the real run has finished writing; the wrapper now sleeps
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read()
    assert rc == 130, err
    assert "interrupted; nothing written" in err
    assert not out.exists() and not partial.exists()


def test_split_input_keep_split(fixture_model, llama_quantize, bins, tmp_path):
    kit = _kit(tmp_path, "llama_split", fixture_model("llama_split"),
               'recipe "split"\narch llama\nbase Q8_0\nladder Q4_K Q6_K Q8_0\npin output Q6_K\n', name="s")
    out = tmp_path / "split.gguf"
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize, OUT=str(out)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = sorted(tmp_path.glob("split-0000*-of-*.gguf"))
    assert len(shards) >= 2, proc.stderr[-2000:]
    assert not list(tmp_path.glob("*partial*"))
    rc, _, err = recipec_cli("verify", str(kit / "plan.lock.json"), *map(str, shards))
    assert rc == 0, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_with_mtp_drafting(fixture_model, llama_bin_dir, llama_quantize, bins, tmp_path):
    server = llama_bin_dir / "llama-server"
    # scripts/build_llama_cpp.sh builds llama-server; only an LLAMA_QUANTIZE override may lack it
    if not server.is_file():
        if in_ci():
            pytest.fail(f"no llama-server beside {llama_quantize}", pytrace=False)
        pytest.skip("this llama.cpp build has no llama-server")
    kit = _kit(tmp_path, "qwen35moe", fixture_model("qwen35moe"))
    proc = run_script(kit / "quantize.sh", _env(bins, llama_quantize))
    assert proc.returncode == 0, proc.stderr[-3000:]
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        srv = subprocess.Popen([BASH, str(kit / "serve.sh"), "--port", str(port)],
                               env=script_env(bins, LLAMA_SERVER=str(server)), stdout=fh, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert srv.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/completion", method="POST",
                                     data=json.dumps({"prompt": "the cat", "n_predict": 8,
                                                      "temperature": 0}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["tokens_predicted"] > 0
        text = log.read_text()
        assert "--spec-type" not in text or "error" not in text.lower()
        assert "MTP draft context" in text, text[-3000:]
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        try:
            srv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait()


def test_size_budget_holds_with_imatrix_and_provenance_keys(fixture_model, fixture_imatrix, llama_quantize,
                                                            bins, tmp_path):
    """llama-quantize adds quantize.imatrix.* keys and quantize.sh the provenance keys: the plan's
    prediction counts them (the path and dataset within a slack), so the file stays within budget."""
    model = fixture_model("llama")
    imatrix = fixture_imatrix("llama")
    probe = _kit(tmp_path, "llama", model, 'recipe "probe"\narch llama\nbase Q4_K_M\nladder Q4_K Q8_0\n'
                 "budget 5.5 bpw\n", name="probe")
    budget = json.loads((probe / "plan.lock.json").read_text())["totals"]["file_bytes"]
    recipe = tmp_path / "b.recipe"
    recipe.write_text(f'recipe "budget-to-the-byte"\narch llama\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\n'
                      f"budget {budget} B\n")
    rc, err = compile_kit(recipe, model, tmp_path / "b", "--imatrix", str(imatrix))
    assert rc == 0, err
    _beside(tmp_path / "b", model, imatrix)
    proc = run_script(tmp_path / "b" / "quantize.sh", _env(bins, llama_quantize))
    assert proc.returncode == 0, proc.stderr[-3000:]
    plan = json.loads((tmp_path / "b" / "plan.lock.json").read_text())
    out = tmp_path / "b" / plan["llama_quantize"]["output"]
    size, totals = out.stat().st_size, plan["totals"]
    assert size <= budget
    assert totals["file_bytes"] - totals["file_bytes_slack"] <= size <= totals["file_bytes"] + totals["file_bytes_slack"]
