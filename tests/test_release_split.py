"""A release of a split model (the 3-shard llama_split fixture): each kit keeps the split, so
release.json names every shard, eval.sh and bench-mtp.sh load the first one
(NAME-00001-of-00003.gguf, the name llama-quantize writes; llama.cpp finds the rest beside it) and
record the size of all of them. eval.sh runs with the real llama-quantize and llama-perplexity."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from recipec.plan import Plan
from recipec.release.scripts import Variant, output_files, render_release
from tests.kit_helpers import BASH, recipec_cli, script_env, tool_dir
from tests.release_helpers import write_recipes

RECIPES = {"q4": 'recipe "q4"\nbase Q4_K_M\n', "q8": 'recipe "q8"\nbase Q8_0\n'}
SHARDS = {v: [f"{v}/{v}-{i:05d}-of-00003.gguf" for i in (1, 2, 3)] for v in RECIPES}
WORDS = "the of and to in is was for on that with as it by at from his an were are which this be".split()


def _compile(d: Path, model: Path) -> Path:
    rc, _, err = recipec_cli("compile", *map(str, write_recipes(d / "recipes", RECIPES)),
                             "--model", str(model), "-o", str(d / "rel"))
    assert rc == 0, err
    return d / "rel"


@pytest.fixture(scope="module")
def split_release(tmp_path_factory, fixture_model) -> Path:
    return _compile(tmp_path_factory.mktemp("split-rel"), fixture_model("llama_split"))


def test_output_files_are_named_as_llama_quantize_names_shards():
    assert output_files("q4.gguf", 0) == ["q4.gguf"]
    assert output_files("q4.gguf", 3) == ["q4-00001-of-00003.gguf", "q4-00002-of-00003.gguf",
                                          "q4-00003-of-00003.gguf"]
    assert output_files("a.b.gguf", 12)[11] == "a.b-00012-of-00012.gguf"


def test_release_json_names_the_first_shard_and_every_shard(split_release):
    rec = json.loads((split_release / "release.json").read_text())
    for entry in rec["variants"]:
        assert entry["file"] == SHARDS[entry["name"]][0]
        assert entry["files"] == SHARDS[entry["name"]]


def test_a_single_file_release_json_is_unchanged(tmp_path, fixture_model):
    rec = json.loads((_compile(tmp_path, fixture_model("llama")) / "release.json").read_text())
    for entry in rec["variants"]:
        assert sorted(entry) == ["file", "file_bytes", "ftype", "mtp", "name", "plan", "plan_sha256", "recipe"]
        assert entry["file"] == f"{entry['name']}/{entry['name']}.gguf"


def test_eval_sh_loads_the_first_shard(split_release):
    script = (split_release / "eval.sh").read_text()
    assert "\n    'q4-00001-of-00003.gguf'\n    'q8-00001-of-00003.gguf'\n)\n" in script
    assert "\nOUTPUT_SHARDS=( 3 3 )\n" in script


# --- bench-mtp.sh: only MTP variants, and the fixture has none; a split variant made to keep one ---

def _mtp_split_release(split_release: Path, out: Path) -> Path:
    """bench-mtp.sh (and its prompts) for q4 of SPLIT_RELEASE with its first tensor marked MTP."""
    plan_json = (split_release / "q4" / "plan.lock.json").read_text()
    plan = Plan.load(str(split_release / "q4" / "plan.lock.json"))
    tensors = [plan.tensors[0].model_copy(update={"mtp": True}), *plan.tensors[1:]]
    variant = Variant("q4", plan.model_copy(update={"tensors": tensors}), plan_json)
    assert variant.keeps_mtp and variant.shards == 3
    files = render_release([variant])
    out.mkdir(parents=True)
    for name in ("bench-mtp.sh", "bench-prompts.txt"):
        (out / name).write_text(files[name])
    (out / "q4").mkdir()
    return out


def _logging_server(folder: Path, log: Path) -> Path:
    """A llama-server that logs its arguments and, but for --version, fails at once."""
    script = folder / "llama-server"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n'
                      'case "$1" in --version) echo "version: 1 (test)"; exit 0 ;; esac\nexit 1\n')
    script.chmod(0o755)
    return script


def test_bench_mtp_starts_the_server_on_the_first_shard_once_every_shard_is_there(split_release, tmp_path):
    rel = _mtp_split_release(split_release, tmp_path / "rel")
    log = tmp_path / "server.log"
    env = script_env(tool_dir(tmp_path / "bin"), LLAMA_SERVER=str(_logging_server(tmp_path, log)), TIMEOUT="20")
    run = lambda: subprocess.run([BASH, str(rel / "bench-mtp.sh"), "--no-card"],  # noqa: E731
                                 env=env, capture_output=True, text=True, timeout=60)
    for shard in SHARDS["q4"][:2]:
        (rel / shard).write_bytes(b"x" * 10)
    missing = run()  # the third shard is missing: the server is not started
    assert missing.returncode == 1
    assert f"{rel / SHARDS['q4'][2]} not found (run quantize-all.sh first)" in missing.stderr
    assert log.read_text().splitlines() == ["--version"]
    (rel / SHARDS["q4"][2]).write_bytes(b"x" * 10)
    failed = run()
    assert failed.returncode == 1 and "[1/1] q4: FAILED" in failed.stderr
    started = log.read_text().splitlines()[2]
    assert started.startswith(f"-m {rel / SHARDS['q4'][0]} --host 127.0.0.1 ")


# --- with the real tools: quantize-all.sh, then eval.sh measures the split variants ---

@pytest.mark.llama
def test_eval_measures_a_split_variant(split_release, fixture_model, llama_quantize, llama_perplexity, tmp_path):
    model = fixture_model("llama_split")
    env = script_env(tool_dir(tmp_path / "bin"), LLAMA_QUANTIZE=str(llama_quantize),
                     LLAMA_PERPLEXITY=str(llama_perplexity))
    quantized = subprocess.run([BASH, str(split_release / "quantize-all.sh"), "--no-card", "--model", str(model)],
                               env=env, capture_output=True, text=True, timeout=300)
    assert quantized.returncode == 0, quantized.stderr
    text = tmp_path / "text.txt"
    rng = random.Random(5)
    text.write_text(" ".join(rng.choice(WORDS) for _ in range(1500)) + "\n")
    proc = subprocess.run([BASH, str(split_release / "eval.sh"), "--model", str(model), "--text", str(text),
                           "--ctx", "128", "--chunks", "2", "--threads", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "summary: 2 measured, 0 measured before, 0 failed" in proc.stderr
    assert f"[1/2] q4: measuring {split_release / SHARDS['q4'][0]} and its 2 other shards" in proc.stderr
    metrics = {v: json.loads((split_release / "metrics" / f"{v}.json").read_text()) for v in RECIPES}
    for v, m in metrics.items():
        assert m["file"] == SHARDS[v][0]
        assert m["file_bytes"] == sum((split_release / s).stat().st_size for s in SHARDS[v])
        assert m["kld"] >= 0 and 0 <= m["same_top"] <= 100 and m["ctx"] == 128 and m["chunks"] == 2
    assert metrics["q8"]["kld"] < metrics["q4"]["kld"]  # 8 bits stay closer than 4
    card = (split_release / "README.md").read_text()  # eval.sh ran `recipec card` at the end
    assert f"| q4 | {SHARDS['q4'][0]} and 2 more shards |" in card.replace("\\_", "_")
    assert "\n# llama\\_split\n" in card  # titled by the model, not by its first shard's name
    quality = card[card.index("## Quality"):card.index("## Bits per weight")]
    assert "not measured" not in quality
