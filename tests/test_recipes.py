"""Curated recipes: each lints clean, is formatted, compiles against the example manifest, and
matches its golden kit (regenerate with `python scripts/regen_recipes_golden.py`)."""

from __future__ import annotations

import importlib.util
import subprocess

import pytest

from tests.kit_helpers import BASH, ROOT, recipec_cli

_spec = importlib.util.spec_from_file_location("regen_recipes_golden", ROOT / "scripts" / "regen_recipes_golden.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)

RECIPES = regen.recipes()
WANTED = {"qwen35moe-ashq1-budget", "qwen35moe-iq4xs-mtp-q6k", "qwen35moe-nvfp4-blackwell",
          "qwen35moe-q4_k_m-mtp-q6k", "qwen35moe-fit-24gib"}


def test_the_curated_set():
    assert WANTED <= {r.stem for r in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_lint_and_fmt_clean(recipe):
    rc, out, err = recipec_cli("lint", "--strict", str(recipe))
    assert rc == 0 and not out.strip() and not err.strip(), out + err
    rc, _, err = recipec_cli("fmt", "--check", str(recipe))
    assert rc == 0, err


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_compiles_to_its_golden_kit(recipe, tmp_path):
    golden = regen.GOLDEN / recipe.stem
    rc, err = regen.compile_into(recipe, tmp_path / "kit")
    assert rc == 0, err
    got = sorted(p.name for p in (tmp_path / "kit").iterdir())
    assert got == sorted(p.name for p in golden.iterdir())
    for name in got:
        assert (tmp_path / "kit" / name).read_text() == (golden / name).read_text(), (
            f"{name} differs from tests/cases/recipes/{recipe.stem}; run scripts/regen_recipes_golden.py")
    for script in ("quantize.sh", "serve.sh", "measure.sh"):
        assert subprocess.run([BASH, "-n", str(golden / script)]).returncode == 0


@pytest.mark.parametrize("recipe", RECIPES[:1], ids=lambda p: p.stem)
def test_compile_check_against_the_golden_kit(recipe, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = regen.compile_args(recipe, str((regen.GOLDEN / recipe.stem).relative_to(ROOT)))
    rc, _, err = recipec_cli(*args, "--check")
    assert rc == 0, err


def test_walkthrough_main_command(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out" / "qwen35moe-iq4xs-mtp"
    rc, _, err = recipec_cli("compile", "examples/qwen35moe-iq4xs-mtp.recipe",
                             "--model", "examples/qwen3.5-35b-a3b.manifest.json",
                             "--imatrix", "examples/qwen3.5-35b-a3b.imatrix.json", "-o", str(out))
    assert rc == 0, err
    assert f"wrote {out}" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["plan.lock.json", "tensor-types.txt", "quantize.sh", "serve.sh", "measure.sh", "card.md"])
