"""The kit says only true, runnable things: the card's command, the scripts' defaults, where the
serve settings come from, the role table's order (issue 14, part 4)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.kit_helpers import BASH, compile_kit, recipec_cli, script_env

RECIPE = 'recipe "truth"\narch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\npin output Q8_0\n'
PROFILED = ('recipe "served"\narch llama\nbase Q4_K_M\nladder Q4_K Q6_K Q8_0\ntarget cuda\n'
            "serve ctx 4096\n")


def _compile(recipe: Path, model: Path, out: Path, *extra: str) -> Path:
    rc, err = compile_kit(recipe, model, out, *extra)
    assert rc == 0, err
    return out


def _command(card: str) -> str:
    """The one command line under "How it was made"."""
    section = card.split("### How it was made\n", 1)[1]
    return re.search(r"```sh\n(.*)\n```", section).group(1)


def _stub_quantize(folder: Path) -> Path:
    """A llama-quantize that records its arguments and prints a dry-run log of the plan's types."""
    stub = folder / "llama-quantize"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = --help ] && { echo "--tensor-type-file --dry-run"; '
                    'exit 1; }; done\nprintf "%s\\0" "$@" >"$STUB_ARGV"\ncat "$STUB_LOG"\n')
    stub.chmod(0o755)
    return stub


def _dry_run(kit: Path, folder: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """quantize.sh --dry-run in KIT on the stub, run from FOLDER (not the kit, not where compile ran)."""
    plan = json.loads((kit / "plan.lock.json").read_text())
    n = len(plan["tensors"])
    (folder / "dry-run.log").write_text("".join(
        f"[{i:4d}/{n:4d}] {t['name']:<36s} - [   64,    64,     1,     1], type =    f16, "
        f"size =     0.01 MiB ->     0.00 MiB ({t['type'].lower()})\n" for i, t in enumerate(plan["tensors"], 1)))
    stub = _stub_quantize(folder)
    full = script_env(folder, LLAMA_QUANTIZE=str(stub), THREADS="2", STUB_ARGV=str(folder / "argv"),
                      STUB_LOG=str(folder / "dry-run.log"), **env)
    (folder / "argv").write_bytes(b"")
    proc = subprocess.run([BASH, str(kit / "quantize.sh"), "--dry-run", *args], env=full, cwd=folder,
                          capture_output=True, text=True, timeout=120)
    return proc, (folder / "argv").read_bytes().decode().split("\0")[:-1]


def test_card_command_from_absolute_paths_names_no_machine_path(fixture_model, fixture_imatrix, tmp_path):
    recipe = tmp_path / "r.recipe"
    recipe.write_text(RECIPE)
    kit = _compile(recipe, fixture_model("llama"), tmp_path / "kit", "--imatrix", str(fixture_imatrix("llama")))
    card = (kit / "card.md").read_text()
    assert _command(card) == ("llama-quantize --tensor-type-file tensor-types.txt --imatrix imatrix-s0.gguf "
                              "llama.gguf truth.gguf Q4_K_M")
    for name in ("card.md", "quantize.sh", "serve.sh", "measure.sh"):
        assert str(tmp_path) not in (kit / name).read_text(), name
        assert str(fixture_model("llama").parent) not in (kit / name).read_text(), name


def test_card_command_keeps_relative_paths_as_given(fixture_model, fixture_imatrix, tmp_path):
    (tmp_path / "in").mkdir()
    shutil.copy(fixture_model("llama"), tmp_path / "in" / "m.gguf")
    shutil.copy(fixture_imatrix("llama"), tmp_path / "in" / "im.gguf")
    (tmp_path / "r.recipe").write_text(RECIPE)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _compile(Path("r.recipe"), Path("in/m.gguf"), Path("kit"), "--imatrix", "in/im.gguf")
    finally:
        os.chdir(cwd)
    card = (tmp_path / "kit" / "card.md").read_text()
    assert _command(card) == ("llama-quantize --tensor-type-file tensor-types.txt --imatrix in/im.gguf "
                              "in/m.gguf truth.gguf Q4_K_M")
    assert "relative to where it ran" in card


def test_summary_and_manifest_without_sources_become_explained_placeholders(fixture_model, fixture_imatrix,
                                                                             tmp_path):
    rc, _, err = recipec_cli("inspect", str(fixture_imatrix("llama")), "-o", str(tmp_path / "im.json"))
    assert rc == 0, err
    rc, _, err = recipec_cli("inspect", str(fixture_model("llama")), "-o", str(tmp_path / "m.manifest.json"))
    assert rc == 0, err
    manifest = json.loads((tmp_path / "m.manifest.json").read_text())
    manifest["source"]["files"] = []
    (tmp_path / "bare.manifest.json").write_text(json.dumps(manifest))
    recipe = tmp_path / "r.recipe"
    recipe.write_text(RECIPE)
    kit = _compile(recipe, tmp_path / "bare.manifest.json", tmp_path / "kit", "--imatrix", str(tmp_path / "im.json"))
    card = (kit / "card.md").read_text()
    command = _command(card)
    assert command == ("llama-quantize --tensor-type-file tensor-types.txt --imatrix IMATRIX.gguf MODEL.gguf "
                       "truth.gguf Q4_K_M")
    assert ".json" not in command
    assert "`IMATRIX.gguf` stands for the imatrix the summary im.json was made from" in card
    assert "`MODEL.gguf` stands for the source GGUF: the manifest bare.manifest.json records no source file" in card
    # the scripts default to nothing there, and say what to give
    proc, _ = _dry_run(kit, tmp_path)
    assert proc.returncode == 1 and "no model: the plan records no source file name" in proc.stderr
    proc, _ = _dry_run(kit, tmp_path, "--model", str(fixture_model("llama")))
    assert proc.returncode == 1 and "compile was given a summary" in proc.stderr and "--imatrix" in proc.stderr
    proc, argv = _dry_run(kit, tmp_path, "--model", str(fixture_model("llama")), "--imatrix", "")
    assert proc.returncode == 0, proc.stderr
    assert "--imatrix" not in argv
    proc, argv = _dry_run(kit, tmp_path, "--model", str(fixture_model("llama")),
                          IMATRIX=str(fixture_imatrix("llama")))
    assert proc.returncode == 0, proc.stderr
    assert argv[argv.index("--imatrix") + 1] == str(fixture_imatrix("llama"))


def test_manifest_with_sources_names_the_real_file(fixture_model, tmp_path):
    rc, _, err = recipec_cli("inspect", str(fixture_model("llama")), "-o", str(tmp_path / "m.manifest.json"))
    assert rc == 0, err
    recipe = tmp_path / "r.recipe"
    recipe.write_text(RECIPE)
    kit = _compile(recipe, tmp_path / "m.manifest.json", tmp_path / "kit")
    card = (kit / "card.md").read_text()
    assert _command(card) == "llama-quantize --tensor-type-file tensor-types.txt llama.gguf truth.gguf Q4_K_M"
    assert "`llama.gguf` is the source GGUF the manifest m.manifest.json records" in card
    assert "DEFAULT_MODEL=\"$HERE\"/'llama.gguf'" in (kit / "quantize.sh").read_text()


def test_quantize_defaults_are_beside_the_kit_wherever_it_is_copied(fixture_model, fixture_imatrix, tmp_path):
    recipe = tmp_path / "r.recipe"
    recipe.write_text(RECIPE)
    kit = _compile(recipe, fixture_model("llama"), tmp_path / "kit", "--imatrix", str(fixture_imatrix("llama")))
    moved = tmp_path / "elsewhere" / "copied kit"
    shutil.copytree(kit, moved)
    shutil.copy(fixture_model("llama"), moved / "llama.gguf")
    shutil.copy(fixture_imatrix("llama"), moved / "imatrix-s0.gguf")
    run_in = tmp_path / "run"
    run_in.mkdir()
    proc, argv = _dry_run(moved, run_in)
    assert proc.returncode == 0, proc.stderr
    assert argv[-4] == str(moved / "llama.gguf")
    assert argv[argv.index("--imatrix") + 1] == str(moved / "imatrix-s0.gguf")
    (moved / "llama.gguf").unlink()
    proc, _ = _dry_run(moved, run_in)
    assert proc.returncode == 1 and f"model not found: {moved / 'llama.gguf'}" in proc.stderr


def test_serve_settings_say_where_they_come_from_and_can_be_overridden(fixture_model, tmp_path):
    recipe = tmp_path / "r.recipe"
    recipe.write_text(PROFILED)
    kit = _compile(recipe, fixture_model("llama"), tmp_path / "kit")
    card = (kit / "card.md").read_text()
    for row in ("| `-c` | 4096 | recipe (`serve`) | `CTX` |", "| `-fa` | on | target profile cuda | `FLASH_ATTN` |",
                "| `-ctk/-ctv` | q8\\_0 | target profile cuda | `CACHE_TYPE` |",
                "| `-ngl` | all | target profile cuda | `NGL` |"):
        assert row in card, row
    stub = tmp_path / "llama-server"
    stub.write_text('#!/bin/sh\nprintf "%s\\0" "$@" >"$STUB_ARGV"\n')
    stub.chmod(0o755)
    env = script_env(tmp_path, LLAMA_SERVER=str(stub), STUB_ARGV=str(tmp_path / "argv"))
    model = str(fixture_model("llama"))

    def serve(*args: str, **more: str) -> list[str]:
        proc = subprocess.run([BASH, str(kit / "serve.sh"), "--model", model, *args], env={**env, **more},
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return (tmp_path / "argv").read_bytes().decode().split("\0")[:-1]

    base = ["-m", model, "--host", "127.0.0.1", "--port", "8080"]
    assert serve() == base + ["-c", "4096", "-fa", "on", "-ctk", "q8_0", "-ctv", "q8_0", "-ngl", "all"]
    assert serve("--cache-type", "", "--ngl", "20", CTX="") == base + ["-fa", "on", "-ngl", "20"]
    assert serve("--flash-attn", "off", CACHE_TYPE="f16") == base + [
        "-c", "4096", "-fa", "off", "-ctk", "f16", "-ctv", "f16", "-ngl", "all"]
    help_text = subprocess.run([BASH, str(kit / "serve.sh"), "--help"], env=env, capture_output=True,
                               text=True, timeout=60).stdout
    for needle in ("--cache-type TYPE", "env CACHE_TYPE; default: q8_0, from the target profile cuda",
                   "env CTX; default: 4096, from the recipe (serve)", "--ngl N", "--flash-attn"):
        assert needle in help_text, needle


@pytest.mark.parametrize("golden", sorted((Path(__file__).parent / "cases" / "recipes").glob("*/card.md")),
                         ids=lambda p: p.parent.name)
def test_role_table_is_sorted_by_role_then_layers(golden):
    rows = re.findall(r"^\| (\S+) \| ((?:MTP )?)(global|[\d, -]+) \| (\w+) \| \d+ \| [\d.]+ \|$",
                      golden.read_text(), flags=re.M)
    assert len(rows) > 10
    keys = [(role, mtp != "", -1 if where == "global" else int(re.match(r"\d+", where).group()), ty)
            for role, mtp, where, ty in rows]
    assert keys == sorted(keys)
    assert _command(golden.read_text()).count(".json") == 0  # the summary is never the imatrix to run


def test_card_notes_a_base_ftype_no_tensor_has(fixture_model, tmp_path):
    recipe = tmp_path / "r.recipe"
    recipe.write_text('recipe "no-iq4"\narch llama\nbase IQ4_XS\nladder Q4_K Q8_0\nbudget 5 bpw\n')
    card = (_compile(recipe, fixture_model("llama"), tmp_path / "kit") / "card.md").read_text()
    row = next(line for line in card.splitlines() if line.startswith("| base type (FTYPE) |"))
    assert row.startswith("| base type (FTYPE) | IQ4\\_XS; no tensor is IQ4_XS, the FTYPE's default type: "
                          "the quantized body is mostly Q4_K (")
    recipe.write_text(RECIPE)
    card = (_compile(recipe, fixture_model("llama"), tmp_path / "kit2") / "card.md").read_text()
    assert "| base type (FTYPE) | Q4\\_K\\_M |" in card
